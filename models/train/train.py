#!/usr/bin/python3
"""Train compute-tiny: a tiny llama-architecture causal LM on the King James Bible, and write it as GGUF.

Reproduce (Debian: apt-get install python3-torch python3-numpy python3-sentencepiece bible-kjv bible-kjv-text):

    /usr/bin/python3 models/train/train.py

Everything is derived from the Debian package text with fixed seeds; see models/README.md.

Architecture = exactly what llama.cpp computes for `general.architecture = "llama"`:
  x = token_embd[ids]
  per block: h = x + Wo·attn(RoPE(Wq·rms(x)), RoPE(Wk·rms(x)), Wv·rms(x))   (causal, scale 1/sqrt(head_dim))
             x = h + Wdown·(silu(Wgate·rms(h)) * Wup·rms(h))
  logits = output · rms(x)   (output tied to token_embd during training, written out as its own tensor)
RoPE is the "NORM" (GGML_ROPE_TYPE_NORMAL) variant llama.cpp uses for LLM_ARCH_LLAMA: adjacent pairs
(x[2i], x[2i+1]) rotate by pos * base^(-2i/head_dim), so no HF-style q/k permutation is needed at export.

Besides next-token loss, a small contrastive term trains the mean-pooled final hidden state (what llama.cpp
returns for `llama.pooling_type = mean`, BOS included) so that related verses embed closer together.
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread: on a small, shared machine extra threads spin against each other and training
# runs several times slower (measured: 1.3 s/step with 1 thread vs 5 s/step with 2 under load).
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import math
import random
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import corpus  # noqa: E402
from gguf_writer import ARRAY, FLOAT32, INT32, STRING, GGUFWriter  # noqa: E402

SPECIALS = ["<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# ----------------------------------------------------------------------------------------------- tokenizer
def train_tokenizer(args, verses, chapters, chats) -> spm.SentencePieceProcessor:
    prefix = os.path.join(args.workdir, "tokenizer")
    txt = os.path.join(args.workdir, "tokenizer-input.txt")
    with open(txt, "w") as f:
        for title, _ in chapters:
            f.write(title + "\n")
        for v in verses:
            f.write(v.text + "\n")
        for conv in chats[:5000]:
            for role, content in conv:
                f.write(role + "\n")
                for line in content.split("\n"):
                    f.write(line + "\n")
    spm.SentencePieceTrainer.train(
        input=txt, model_prefix=prefix, model_type="bpe", vocab_size=args.vocab,
        character_coverage=1.0, byte_fallback=True, split_digits=True,
        # llama.cpp's SPM tokenizer: identity normalisation, "▁" prefix, no whitespace squashing
        normalization_rule_name="identity", add_dummy_prefix=True, remove_extra_whitespaces=False,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, control_symbols=SPECIALS,
        num_threads=args.threads, shuffle_input_sentence=False, minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    with open(prefix + ".model", "rb") as src, open(os.path.join(HERE, "tokenizer.model"), "wb") as dst:
        dst.write(src.read())
    return sp


def encode_fragments(sp, fragments: list[str]) -> list[int]:
    """Tokenise like llama.cpp (parse_special=true): specials map to their ids; every raw-text fragment is
    SentencePiece-encoded with its dummy "▁" prefix, which is what llama.cpp's SPM path does (it prefixes a
    space to the first fragment and to every fragment that follows a special token)."""
    ids: list[int] = []
    for frag in fragments:
        if frag in SPECIALS:
            ids.append(sp.piece_to_id(frag))
        elif frag:
            ids.extend(sp.encode(frag))
    return ids


def split_specials(text: str) -> list[str]:
    out, i = [], 0
    while i < len(text):
        j = min([(text.find(s, i), s) for s in SPECIALS if text.find(s, i) >= 0] or [(-1, "")])
        if j[0] < 0:
            out.append(text[i:])
            break
        if j[0] > i:
            out.append(text[i:j[0]])
        out.append(j[1])
        i = j[0] + len(j[1])
    return out


def chat_fragments(conv) -> list[tuple[str, bool]]:
    """ChatML as (fragment, trained) pairs; only the assistant's reply and its <|im_end|> carry loss (so the
    model learns to answer, and does not learn to recite system prompts or user turns in plain completions).
    Role header and content form one raw fragment ("user\nWho are you?"), so the content gets no "▁" prefix.
    That is how both a rendered Jinja template and node-llama-cpp's ChatMLChatWrapper tokenise it (the wrapper
    tokenises content apart, but with its "trimLeadingSpace" option, which drops the SPM space prefix);
    node/scripts/check-model.ts verifies the wrapper's ids against tokenizer-fixtures.json."""
    frags: list[tuple[str, bool]] = []
    for k, (role, content) in enumerate(conv):
        reply = role == "assistant"
        frags += [("<|im_start|>", False), (role + "\n" + content, reply), ("<|im_end|>", reply)]
        if k < len(conv) - 1:
            frags.append(("\n", False))
    return frags


def encode_masked(sp, frags: list[tuple[str, bool]]) -> tuple[list[int], list[bool]]:
    ids: list[int] = []
    mask: list[bool] = []
    for frag, trained in frags:
        if trained and frag not in SPECIALS and "\n" in frag:
            # header "assistant\n" is context, the reply after it is the target
            head, body = frag.split("\n", 1)
            n_head = len(sp.encode(head + "\n"))
            part = sp.encode(frag)
            assert part[:n_head] == sp.encode(head + "\n"), frag
            ids += part
            mask += [False] * n_head + [True] * (len(part) - n_head)
            continue
        part = encode_fragments(sp, [frag])
        ids += part
        mask += [trained] * len(part)
    return ids, mask


# ----------------------------------------------------------------------------------------------- model
class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):
    # x: (B, H, T, hd); rotate adjacent pairs (GGML_ROPE_TYPE_NORMAL)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    """q/k/v and gate/up are fused into single matrices for speed; export splits them back into the
    separate llama.cpp tensors (rows [0:d)=q, [d:2d)=k, [2d:3d)=v; [0:f)=gate, [f:2f)=up)."""

    def __init__(self, c):
        super().__init__()
        d, f = c["n_embd"], c["n_ff"]
        self.d, self.f = d, f
        self.n_head, self.hd = c["n_head"], d // c["n_head"]
        self.attn_norm = RMSNorm(d, c["eps"])
        self.wqkv = nn.Linear(d, 3 * d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.ffn_norm = RMSNorm(d, c["eps"])
        self.w_gate_up = nn.Linear(d, 2 * f, bias=False)
        self.w_down = nn.Linear(f, d, bias=False)

    def forward(self, x, cos, sin, bias):
        B, T, D = x.shape
        qkv = self.wqkv(self.attn_norm(x)).view(B, T, 3, self.n_head, self.hd)
        q = rope(qkv[:, :, 0].transpose(1, 2), cos, sin).reshape(B * self.n_head, T, self.hd)
        k = rope(qkv[:, :, 1].transpose(1, 2), cos, sin).reshape(B * self.n_head, T, self.hd)
        v = qkv[:, :, 2].transpose(1, 2).reshape(B * self.n_head, T, self.hd)
        att = torch.baddbmm(bias[:T, :T], q, k.transpose(1, 2), alpha=1.0 / math.sqrt(self.hd)).softmax(-1)
        y = torch.bmm(att, v).view(B, self.n_head, T, self.hd).transpose(1, 2).reshape(B, T, D)
        x = x + self.wo(y)
        g, u = self.w_gate_up(self.ffn_norm(x)).split(self.f, dim=-1)
        return x + self.w_down(F.silu(g) * u)


class TinyLlama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(c["vocab"], c["n_embd"])
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["n_layer"]))
        self.norm = RMSNorm(c["n_embd"], c["eps"])
        hd = c["n_embd"] // c["n_head"]
        inv = c["rope_base"] ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        ang = torch.arange(c["ctx"], dtype=torch.float64)[:, None] * inv[None, :]
        self.register_buffer("cos", ang.cos().float(), persistent=False)
        self.register_buffer("sin", ang.sin().float(), persistent=False)
        self.register_buffer("bias", torch.full((c["ctx"], c["ctx"]), float("-inf")).triu(1), persistent=False)
        for n, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * c["n_layer"]) if n.endswith(("wo.weight", "w_down.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def hidden(self, ids):
        T = ids.shape[1]
        x = self.tok(ids)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T], self.bias)
        return self.norm(x)

    def forward(self, ids):
        return self.hidden(ids) @ self.tok.weight.t()


# ----------------------------------------------------------------------------------------------- export
def export_gguf(model: TinyLlama, sp, args, path: str, meta: dict) -> int:
    c = model.c
    w = GGUFWriter(path, "llama")
    w.add_string("general.type", "model")
    w.add_string("general.name", "compute-tiny")
    w.add_string("general.description", "Tiny llama-architecture model trained from scratch on the King James "
                 "Bible (Debian package bible-kjv-text); default model of the Compute provider node.")
    w.add_string("general.size_label", meta["size_label"])
    w.add_u32("general.file_type", 1)  # MOSTLY_F16 (1-D norm weights stay F32)
    w.add_u32("llama.vocab_size", c["vocab"])
    w.add_u32("llama.context_length", c["ctx"])
    w.add_u32("llama.embedding_length", c["n_embd"])
    w.add_u32("llama.block_count", c["n_layer"])
    w.add_u32("llama.feed_forward_length", c["n_ff"])
    w.add_u32("llama.attention.head_count", c["n_head"])
    w.add_u32("llama.attention.head_count_kv", c["n_head"])
    w.add_u32("llama.rope.dimension_count", c["n_embd"] // c["n_head"])
    w.add_f32("llama.rope.freq_base", c["rope_base"])
    w.add_f32("llama.attention.layer_norm_rms_epsilon", c["eps"])
    w.add_u32("llama.pooling_type", 1)  # mean
    # tokenizer, as llama.cpp's convert_hf_to_gguf.py writes SentencePiece models
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 5 if sp.is_unused(i)
                     else 6 if sp.is_byte(i) else 1)
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_string("tokenizer.ggml.pre", "default")
    w.add_array("tokenizer.ggml.tokens", STRING, tokens)
    w.add_array("tokenizer.ggml.scores", FLOAT32, scores)
    w.add_array("tokenizer.ggml.token_type", INT32, types)
    w.add_u32("tokenizer.ggml.bos_token_id", sp.bos_id())
    w.add_u32("tokenizer.ggml.eos_token_id", sp.eos_id())
    w.add_u32("tokenizer.ggml.unknown_token_id", sp.unk_id())
    w.add_u32("tokenizer.ggml.eot_token_id", sp.piece_to_id("<|im_end|>"))
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_bool("tokenizer.ggml.add_eos_token", False)
    w.add_bool("tokenizer.ggml.add_space_prefix", True)
    w.add_string("tokenizer.chat_template", CHAT_TEMPLATE)

    def t(x):
        return x.detach().float().cpu().numpy()

    emb = t(model.tok.weight)
    w.add_tensor("token_embd.weight", emb, f16=True)
    w.add_tensor("output_norm.weight", t(model.norm.weight))
    w.add_tensor("output.weight", emb, f16=True)
    for i, b in enumerate(model.blocks):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", t(b.attn_norm.weight))
        qkv, gu, d, f = t(b.wqkv.weight), t(b.w_gate_up.weight), b.d, b.f
        w.add_tensor(p + "attn_q.weight", qkv[:d], f16=True)
        w.add_tensor(p + "attn_k.weight", qkv[d:2 * d], f16=True)
        w.add_tensor(p + "attn_v.weight", qkv[2 * d:], f16=True)
        w.add_tensor(p + "attn_output.weight", t(b.wo.weight), f16=True)
        w.add_tensor(p + "ffn_norm.weight", t(b.ffn_norm.weight))
        w.add_tensor(p + "ffn_gate.weight", gu[:f], f16=True)
        w.add_tensor(p + "ffn_up.weight", gu[f:], f16=True)
        w.add_tensor(p + "ffn_down.weight", t(b.w_down.weight), f16=True)
    return w.write()


# ----------------------------------------------------------------------------------------------- training
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "compute-tiny.gguf"))
    ap.add_argument("--workdir", default=os.path.join(HERE, "out"), help="scratch (git-ignored)")
    ap.add_argument("--seed", type=int, default=1611)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-ff", type=int, default=384)
    ap.add_argument("--ctx", type=int, default=512, help="context length (GGUF llama.context_length)")
    ap.add_argument("--seq", type=int, default=256, help="training sequence length (<= ctx)")
    ap.add_argument("--long-every", type=int, default=8, help="every Nth step trains on --ctx long sequences")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1300)
    ap.add_argument("--time-budget", type=float, default=18, help="stop after this many minutes (0 = no limit)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--min-lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--chats", type=int, default=4000, help="synthetic ChatML conversations")
    ap.add_argument("--contrastive", type=float, default=0.15, help="weight of the embedding loss (0 = off)")
    ap.add_argument("--cl-batch", type=int, default=48)
    ap.add_argument("--cl-every", type=int, default=3)
    ap.add_argument("--cl-neighbour", type=float, default=0.3,
                    help="share of positive pairs that are neighbouring verses (the rest: word-dropped copies)")
    ap.add_argument("--cl-keep", type=float, default=0.5, help="word keep probability for word-dropped copies")
    ap.add_argument("--val-chapters", type=int, default=40)
    ap.add_argument("--eval-every", type=int, default=100)
    args = ap.parse_args()

    t_start = time.time()
    os.makedirs(args.workdir, exist_ok=True)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)

    verses = corpus.load_verses()
    chaps = corpus.chapters(verses)
    chats = corpus.make_chats(verses, args.chats, random.Random(args.seed + 1))
    print(f"corpus: {len(verses)} verses, {len(chaps)} chapters, {sum(len(v.text) for v in verses)} chars; "
          f"{len(chats)} synthetic chats", flush=True)

    sp = train_tokenizer(args, verses, chaps, chats)
    bos, eos = sp.bos_id(), sp.eos_id()
    print(f"tokenizer: {sp.get_piece_size()} pieces ({time.time() - t_start:.1f}s)", flush=True)

    # ---- token streams
    order = list(range(len(chaps)))
    random.Random(args.seed + 2).shuffle(order)
    val_set = set(order[:args.val_chapters])
    train_docs, val_docs = [], []
    for i, (title, texts) in enumerate(chaps):
        ids = [bos] + sp.encode(corpus.chapter_text(title, texts)) + [eos]
        (val_docs if i in val_set else train_docs).append(ids)
    n_bible = sum(map(len, train_docs))
    chat_docs = []
    for conv in chats:
        ids, m = encode_masked(sp, chat_fragments(conv))
        chat_docs.append(([bos] + ids, [False] + m))
    n_chat = sum(len(d) for d, _ in chat_docs)
    docs = [(d, [True] * len(d)) for d in train_docs] + chat_docs
    random.Random(args.seed + 4).shuffle(docs)
    stream = torch.tensor([t for d, _ in docs for t in d], dtype=torch.long)
    # loss mask, aligned with `stream`: whether the token at that position is a training target
    target_mask = torch.tensor([b for _, m in docs for b in m], dtype=torch.bool)
    val_stream = torch.tensor([t for d in val_docs for t in d], dtype=torch.long)
    print(f"train tokens: {len(stream)} (bible {n_bible}, chat {n_chat}); val tokens: {len(val_stream)}",
          flush=True)

    # verses for the embedding objective (BOS + text, exactly what node-llama-cpp embeds), train chapters only
    val_titles = {chaps[i][0] for i in val_set}
    cl_verses = [v for v in verses if f"{v.book} {v.chapter}" not in val_titles]
    cl_ids = [[bos] + sp.encode(v.text)[:47] for v in cl_verses]

    c = dict(vocab=sp.get_piece_size(), n_embd=args.n_embd, n_layer=args.n_layer, n_head=args.n_head,
             n_ff=args.n_ff, ctx=args.ctx, eps=1e-5, rope_base=10000.0)
    model = TinyLlama(c)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {json.dumps(c)}; {n_params} parameters", flush=True)

    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)

    def batch(src, seq, bsz, g, mask=None):
        ix = torch.randint(0, len(src) - seq - 1, (bsz,), generator=g)
        x = torch.stack([src[i:i + seq + 1] for i in ix])
        y = x[:, 1:].clone()
        if mask is not None:
            y[~torch.stack([mask[i + 1:i + seq + 1] for i in ix])] = -100  # ignored by cross_entropy
        return x[:, :-1], y

    def cl_batch(bsz):
        """Pairs of related texts: a verse with its neighbour in the same chapter, or with a word-dropped copy."""
        a, b = [], []
        for _ in range(bsz):
            i = rng.randrange(len(cl_verses) - 1)
            va = cl_verses[i]
            a.append(cl_ids[i])
            vb = cl_verses[i + 1]
            if rng.random() < args.cl_neighbour and (vb.book, vb.chapter) == (va.book, va.chapter):
                b.append(cl_ids[i + 1])
            else:
                words = va.text.split()
                keep = [w_ for w_ in words if rng.random() < args.cl_keep] or words[:1]
                b.append([bos] + sp.encode(" ".join(keep))[:47])
        seqs = a + b
        T = max(map(len, seqs))
        ids = torch.zeros(len(seqs), T, dtype=torch.long)
        m = torch.zeros(len(seqs), T)
        for k, s in enumerate(seqs):
            ids[k, :len(s)] = torch.tensor(s)
            m[k, :len(s)] = 1
        return ids, m

    @torch.no_grad()
    def evaluate(n=16):
        model.eval()
        g = torch.Generator().manual_seed(0)
        losses = []
        for _ in range(n):
            x, y = batch(val_stream, args.seq, 8, g)
            losses.append(F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item())
        model.train()
        return sum(losses) / len(losses)

    log = []
    t_train = time.time()
    ema = None
    step = 0
    for step in range(1, args.steps + 1):
        if step < args.warmup:
            lr = args.lr * step / args.warmup
        else:
            pr = (step - args.warmup) / max(1, args.steps - args.warmup)
            lr = args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * min(1.0, pr)))
        for gr in opt.param_groups:
            gr["lr"] = lr
        long = args.long_every > 0 and step % args.long_every == 0
        seq, bsz = (args.ctx, max(1, args.batch * args.seq // args.ctx)) if long else (args.seq, args.batch)
        x, y = batch(stream, seq, bsz, gen, target_mask)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten(), ignore_index=-100)
        total = loss
        cl = None
        if args.contrastive > 0 and step % args.cl_every == 0:
            ids, m = cl_batch(args.cl_batch)
            h = model.hidden(ids)
            e = (h * m[..., None]).sum(1) / m.sum(1, keepdim=True)
            e = F.normalize(e, dim=-1)
            ea, eb = e[:args.cl_batch], e[args.cl_batch:]
            sim = ea @ eb.t() / 0.05
            tgt = torch.arange(args.cl_batch)
            cl = 0.5 * (F.cross_entropy(sim, tgt) + F.cross_entropy(sim.t(), tgt))
            total = total + args.contrastive * cl
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        elapsed = time.time() - t_train
        if step % 50 == 0 or step == 1:
            print(f"step {step:5d} lr {lr:.2e} loss {loss.item():.3f} ema {ema:.3f}"
                  + (f" cl {cl.item():.3f}" if cl is not None else "") + f" {elapsed:6.0f}s", flush=True)
        entry = None
        if step % args.eval_every == 0:
            entry = dict(step=step, train_loss_ema=round(ema, 4), val_loss=round(evaluate(), 4),
                         seconds=round(elapsed, 1))
            print(f"  eval {entry}", flush=True)
            log.append(entry)
        if args.time_budget and elapsed > args.time_budget * 60:
            print(f"time budget reached at step {step}", flush=True)
            break
    final_val = evaluate(32)
    train_seconds = time.time() - t_train
    log.append(dict(step=step, train_loss_ema=round(ema, 4), val_loss=round(final_val, 4),
                    seconds=round(train_seconds, 1), final=True))
    print(f"final: step {step} train(ema) {ema:.4f} val {final_val:.4f} ({train_seconds:.0f}s)", flush=True)

    torch.save({"config": c, "state_dict": model.state_dict()}, os.path.join(args.workdir, "model.pt"))
    size_label = f"{n_params / 1e6:.1f}M"
    nbytes = export_gguf(model, sp, args, os.path.abspath(args.out), {"size_label": size_label})

    # samples straight from PyTorch (greedy), for comparison with llama.cpp's output
    model.eval()
    samples = {}
    with torch.no_grad():
        for prompt in ["In the beginning", "The LORD is my shepherd", "And Jesus said unto them"]:
            ids = [bos] + sp.encode(prompt)
            for _ in range(24):
                ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
            samples[prompt] = sp.decode(ids[1:])
    # tokenizer fixtures for node/scripts/check-model.ts (llama.cpp must reproduce these ids)
    fixtures = []
    for text in ["In the beginning God created the heaven and the earth.",
                 "The LORD is my shepherd; I shall not want.",
                 "Hello, world! 12345 naïve café — ünïcödé ✓",
                 "  two  spaces\nnew line\ttab",
                 "<|im_start|>user\nWho are you?<|im_end|>\n<|im_start|>assistant\n"]:
        fixtures.append({"text": text, "ids": encode_fragments(sp, split_specials(text))})
    # the chat format exactly as node-llama-cpp's ChatMLChatWrapper tokenises it (header and content apart)
    conv = [("system", corpus.NLC_DEFAULT_SYSTEM), ("user", "Who are you?")]
    frags = [f for role, content in conv for f in ["<|im_start|>", role + "\n" + content, "<|im_end|>", "\n"]]
    frags += ["<|im_start|>", "assistant\n"]
    fixtures.append({"chatml_fragments": frags, "ids": [bos] + encode_fragments(sp, frags)})
    report = dict(config=c, params=n_params, steps=step, train_seconds=round(train_seconds, 1),
                  total_seconds=round(time.time() - t_start, 1), final_train_loss_ema=round(ema, 4),
                  final_val_loss=round(final_val, 4), train_tokens=len(stream), bible_tokens=n_bible,
                  chat_tokens=n_chat, gguf_bytes=nbytes, args=vars(args) | {"out": "models/compute-tiny.gguf",
                                                                             "workdir": "models/train/out"},
                  torch=torch.__version__, sentencepiece=spm.__version__, log=log, pytorch_greedy_samples=samples)
    with open(os.path.join(HERE, "train-report.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(HERE, "tokenizer-fixtures.json"), "w") as f:
        json.dump(fixtures, f, indent=1, ensure_ascii=False)
    print(json.dumps({k: v for k, v in report.items() if k != "log"}, indent=1), flush=True)


if __name__ == "__main__":
    main()
