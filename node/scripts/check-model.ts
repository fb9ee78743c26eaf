/**
 * Verifies a GGUF model end to end with the embedded engine (node-llama-cpp):
 * metadata, tokenizer round trip (and, for compute-tiny, the exact ids the training tokenizer produced),
 * a raw completion, a chat answer through LlamaChatSession, decode speed, and embeddings where related
 * sentences must score closer than unrelated ones.
 *
 *   npx tsx node/scripts/check-model.ts [model.gguf]     (default: models/compute-tiny.gguf)
 *
 * Env: CHECK_THREADS (threads for the checks, default 1), CHECK_BENCH_THREADS (thread counts to benchmark,
 * default "1,2"), CHECK_JSON=path to also write the results as JSON.
 * Exits non-zero when any check fails.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama, LlamaChatSession, LlamaCompletion, LlamaLogLevel, resolveChatWrapper } from "node-llama-cpp";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const modelPath = path.resolve(process.argv[2] ?? path.join(root, "models/compute-tiny.gguf"));
const fixturesPath = path.join(root, "models/train/tokenizer-fixtures.json");
// node-llama-cpp's default on CPU is max(4, math cores) threads; on a 2-core box that oversubscribes and a
// tiny model decodes ~1000x slower (measured 1 token/s vs ~2400 with 1 thread), so pass threads explicitly.
const threads = Number(process.env.CHECK_THREADS ?? 1);

// LlamaChatSession's default system prompt (node-llama-cpp dist/config.js, not exported); the training chats use it
const defaultChatSystemPrompt =
  "You are a helpful, respectful and honest assistant. Always answer as helpfully as possible.\n" +
  "If a question does not make any sense, or is not factually coherent, explain why instead of answering something incorrectly. " +
  "If you don't know the answer to a question, don't share false information.";

const failures: string[] = [];
const results: Record<string, unknown> = { modelPath: path.relative(root, modelPath) };
function check(ok: boolean, what: string): void {
  console.log(`${ok ? "PASS" : "FAIL"}  ${what}`);
  if (!ok) failures.push(what);
}
const ms = (t0: number) => Math.round(performance.now() - t0);
const tScript = performance.now();

const llama = await getLlama({ build: "never", logLevel: LlamaLogLevel.error });
console.log(`model: ${modelPath} (${(statSync(modelPath).size / 1e6).toFixed(2)} MB), backend: ${llama.gpu || "cpu"}`);

// ---- load + metadata
let t0 = performance.now();
const model = await llama.loadModel({ modelPath });
results.loadMs = ms(t0);
const meta = model.fileInfo.metadata as { general: { name?: string; architecture?: string } };
results.name = meta.general.name;
results.architecture = meta.general.architecture;
results.trainContextSize = model.trainContextSize;
results.embeddingSize = model.embeddingVectorSize;
console.log(
  `loaded in ${results.loadMs} ms: name=${meta.general.name} arch=${meta.general.architecture} ` +
    `train ctx=${model.trainContextSize}, n_embd=${model.embeddingVectorSize}, vocab=${model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length}`,
);
check(
  typeof meta.general.name === "string" && meta.general.name.length > 0,
  `general.name is set ("${meta.general.name}")`,
);
check(meta.general.architecture === "llama", "general.architecture is llama");

// ---- tokenizer
for (const text of ["In the beginning God created the heaven and the earth.", "Hello, world! 12345\nnaïve café ✓"]) {
  const tokens = model.tokenize(text);
  const back = model.detokenize(tokens);
  check(back === text, `round trip (${tokens.length} tokens): ${JSON.stringify(text)} -> ${JSON.stringify(back)}`);
}
if (meta.general.name === "compute-tiny" && existsSync(fixturesPath)) {
  // ids produced by the training tokenizer (models/train/train.py): llama.cpp must reproduce them exactly
  type Fixture = { text?: string; chatml_fragments?: string[]; ids: number[] };
  const fixtures = JSON.parse(readFileSync(fixturesPath, "utf8")) as Fixture[];
  for (const { text, ids } of fixtures) {
    if (text === undefined) continue;
    const got = Array.from(model.tokenize(text, true));
    check(
      JSON.stringify(got) === JSON.stringify(ids),
      `llama.cpp tokenises like SentencePiece: ${JSON.stringify(text)}`,
    );
  }
  // the prompt node-llama-cpp's chat wrapper builds must be tokenised the way the chat data was trained
  const chatFixture = fixtures.find((f) => f.chatml_fragments);
  if (chatFixture) {
    const wrapper = resolveChatWrapper(model);
    const { contextText } = wrapper.generateContextState({
      chatHistory: [
        { type: "system", text: defaultChatSystemPrompt },
        { type: "user", text: "Who are you?" },
        { type: "model", response: [] },
      ],
    });
    const got = Array.from(contextText.tokenize(model.tokenizer));
    check(
      JSON.stringify(got) === JSON.stringify(chatFixture.ids),
      `${wrapper.wrapperName} chat prompt tokenises as in training (${got.length} tokens)`,
    );
  }
}

// ---- completion + speed
const context = await model.createContext({ contextSize: Math.min(512, model.trainContextSize ?? 512), threads });
results.contextSize = context.contextSize;
results.threads = context.currentThreads;
const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
const completions: Record<string, { greedy: string; sampled: string }> = {};
for (const prompt of ["In the beginning", "The LORD is my shepherd", "And Jesus said unto them"]) {
  const greedy = await completion.generateCompletion(prompt, { maxTokens: 40, temperature: 0, repeatPenalty: false });
  const sampled = await completion.generateCompletion(prompt, {
    maxTokens: 40,
    temperature: 0.8,
    topK: 40,
    topP: 0.95,
    seed: 7,
  });
  completions[prompt] = { greedy, sampled };
  console.log(`completion (greedy):  ${JSON.stringify(prompt)} -> ${JSON.stringify(greedy)}`);
  console.log(`completion (sampled): ${JSON.stringify(prompt)} -> ${JSON.stringify(sampled)}`);
  check(/[a-z]{3,}/i.test(greedy) && /[a-z]{3,}/i.test(sampled), `completion of ${JSON.stringify(prompt)} has words`);
}
results.completions = completions;

// speed: prompt processing of one ~400-token batch, then decoding 200 sampled tokens straight off the
// sequence (end-of-generation tokens are sampled through, not stopped at), for each thread count to compare (CHECK_BENCH_THREADS, default "1,2")
const benchThreads = (process.env.CHECK_BENCH_THREADS ?? "1,2").split(",").map(Number);
const speed: Record<string, { promptTokensPerSecond: number; decodeTokensPerSecond: number }> = {};
for (const n of benchThreads) {
  const ctx = await model.createContext({ contextSize: 512, threads: n });
  const seq = ctx.getSequence();
  const long = model.tokenize("And the LORD spake unto Moses, saying, ".repeat(40)).slice(0, 400);
  t0 = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(long);
  const pp = (long.length * 1000) / (performance.now() - t0);
  await seq.clearHistory();
  let generated = 0;
  let tFirst = 0;
  t0 = performance.now();
  for await (const _token of seq.evaluate(model.tokenize("And it came to pass", false), {
    temperature: 0.8,
    seed: 1,
    yieldEogToken: true,
  })) {
    if (++generated === 1) tFirst = performance.now();
    if (generated >= 200) break;
  }
  const decode = ((generated - 1) * 1000) / (performance.now() - tFirst);
  speed[`threads=${n}`] = { promptTokensPerSecond: Math.round(pp), decodeTokensPerSecond: Math.round(decode) };
  console.log(
    `speed (threads=${n}): prompt ${long.length} tokens at ${pp.toFixed(0)} tokens/s; decode ${generated} tokens at ` +
      `${decode.toFixed(0)} tokens/s; first token after ${(tFirst - t0).toFixed(1)} ms`,
  );
  check(generated === 200 && decode > 1, `decode speed measured (threads=${n})`);
  await ctx.dispose();
}
results.speed = speed;

// ---- chat
const chatContext = await model.createContext({ contextSize: Math.min(512, model.trainContextSize ?? 512), threads });
const session = new LlamaChatSession({ contextSequence: chatContext.getSequence() });
results.chatWrapper = session.chatWrapper.wrapperName;
console.log(`chat wrapper: ${session.chatWrapper.wrapperName}`);
const chats: Record<string, string> = {};
for (const q of ["Who are you?", "What does the Bible say about shepherds?", "Continue: Blessed are the meek"]) {
  const answer = await session.prompt(q, { maxTokens: 60, temperature: 0.7, seed: 42 });
  chats[q] = answer;
  console.log(`chat: ${JSON.stringify(q)} -> ${JSON.stringify(answer)}`);
  check(/[a-z]{3,}/i.test(answer), `chat answer to ${JSON.stringify(q)} has words`);
  session.resetChatHistory();
}
results.chat = chats;

// ---- embeddings
const embedding = await model.createEmbeddingContext({ contextSize: 256, threads });
const embed = (text: string) => embedding.getEmbeddingFor(text);
// [anchor, related, unrelated]; the first five must each hold, and at least 3/4 of all of them
const cases: [string, string, string][] = [
  [
    "The shepherd feeds his flock of sheep.",
    "The sheep follow their shepherd into the fold.",
    "The king gathered his army for battle.",
  ],
  [
    "The king went out to battle with his chariots.",
    "The armies of the king fought the war with swords.",
    "The lambs and the sheep graze in green pastures.",
  ],
  [
    "Jesus healed the sick and the blind.",
    "He opened the eyes of the blind man and made him whole.",
    "They built a house of cedar wood and stone.",
  ],
  [
    "Give thanks unto the LORD, for he is good.",
    "Praise the LORD, for his mercy endureth for ever.",
    "The famine was sore in the land of Egypt.",
  ],
  [
    "Moses led the children of Israel out of Egypt.",
    "Pharaoh let the people of Israel go from the land of Egypt.",
    "Paul wrote an epistle to the church.",
  ],
  [
    "The fishermen cast their nets into the sea.",
    "They caught many fishes in the net by the sea.",
    "The priest offered a burnt offering upon the altar.",
  ],
  [
    "The priest burned incense on the altar in the temple.",
    "Offerings were made upon the altar of the temple.",
    "The shepherds watched their flocks by night.",
  ],
  [
    "It rained forty days and forty nights upon the earth.",
    "The waters of the flood covered the earth.",
    "The disciples ate bread at the supper.",
  ],
  [
    "A sower went forth to sow his seed in the field.",
    "The seed fell on good ground in the field and grew.",
    "The soldiers crucified him between two thieves.",
  ],
  [
    "The wine ran out at the wedding feast.",
    "They drank wine at the marriage supper.",
    "David slew Goliath with a stone.",
  ],
  [
    "The lion roared in the wilderness.",
    "A young lion came out of the forest and roared.",
    "Give us this day our daily bread.",
  ],
  ["Love thy neighbour as thyself.", "Love one another, as I have loved you.", "The walls of Jericho fell down."],
  [
    "The sheep were lost in the mountains.",
    "I will seek my lost sheep upon the hills.",
    "Pay the tribute money to Caesar.",
  ],
  [
    "Gold and silver and precious stones.",
    "Treasures of silver and of gold.",
    "He went into the synagogue on the sabbath.",
  ],
  [
    "The ship was broken by the storm at sea.",
    "The wind and the waves beat upon the ship.",
    "The woman drew water from the well.",
  ],
  [
    "Abraham offered his son Isaac.",
    "Abraham took Isaac his son to the mountain.",
    "The king of Babylon besieged Jerusalem.",
  ],
];
const CORE = 5;
const sims: { anchor: string; related: number; unrelated: number }[] = [];
for (const [i, [anchor, related, unrelated]] of cases.entries()) {
  const [a, r, u] = [await embed(anchor), await embed(related), await embed(unrelated)];
  const sr = a.calculateCosineSimilarity(r);
  const su = a.calculateCosineSimilarity(u);
  sims.push({ anchor, related: +sr.toFixed(4), unrelated: +su.toFixed(4) });
  const line = `embedding: ${JSON.stringify(anchor)} related ${sr.toFixed(3)} vs unrelated ${su.toFixed(3)}`;
  if (i < CORE) check(sr > su, line);
  else console.log(`${sr > su ? "ok  " : "MISS"}  ${line}`);
}
const correct = sims.filter((s) => s.related > s.unrelated).length;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const meanRelated = mean(sims.map((s) => s.related));
const meanUnrelated = mean(sims.map((s) => s.unrelated));
results.embeddingAccuracy = `${correct}/${sims.length}`;
console.log(
  `embedding: ${correct}/${sims.length} triplets ordered correctly; mean cosine related ${meanRelated.toFixed(3)}, unrelated ${meanUnrelated.toFixed(3)}`,
);
check(
  correct >= Math.ceil(0.75 * sims.length) && meanRelated > meanUnrelated,
  "embedding: at least 3/4 of all triplets ordered correctly",
);
results.embeddingVectorLength = (await embed("test")).vector.length;
results.embeddings = sims;

await embedding.dispose();
await chatContext.dispose();
await context.dispose();
await model.dispose();
await llama.dispose();

results.failures = failures;
console.log(`total ${(ms(tScript) / 1000).toFixed(1)} s`);
if (process.env.CHECK_JSON) writeFileSync(process.env.CHECK_JSON, JSON.stringify(results, null, 1));
console.log(failures.length === 0 ? "\nALL CHECKS PASSED" : `\n${failures.length} CHECK(S) FAILED`);
process.exit(failures.length === 0 ? 0 : 1);
