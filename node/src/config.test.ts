import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, REPO_ROOT } from "./config.ts";

describe("loadConfig", () => {
  it("defaults: port 4007, llamacpp + mock, the tiny model under the repo root, no chain", () => {
    const c = loadConfig({});
    expect(c.port).toBe(4007);
    expect(c.backends).toEqual(["llamacpp", "mock"]);
    expect(c.modelPath).toBe(path.join(REPO_ROOT, "models", "compute-tiny.gguf"));
    expect(c.chain).toBeUndefined();
    expect(c.ollamaHost).toBe("http://127.0.0.1:11434");
  });

  it("parses the documented variables", () => {
    const c = loadConfig({
      COMPUTE_PORT: "5000",
      MODEL_BACKEND: "ollama, mock",
      OLLAMA_HOST: "gpu-box:11434",
      OPENAI_BASE_URL: "http://127.0.0.1:8000/v1/",
      OPENAI_API_KEY: "sk-x",
      MODEL_ALIASES: "llama2=compute-tiny,gpt-4o=mock-model",
      MAX_BODY_BYTES: "1024",
      REQUEST_TIMEOUT_MS: "2000",
      RPC_URL: "http://127.0.0.1:8545",
    });
    expect(c).toMatchObject({
      port: 5000,
      backends: ["ollama", "mock"],
      ollamaHost: "http://gpu-box:11434",
      openaiBaseUrl: "http://127.0.0.1:8000/v1",
      openaiApiKey: "sk-x",
      modelAliases: { llama2: "compute-tiny", "gpt-4o": "mock-model" },
      maxBodyBytes: 1024,
      requestTimeoutMs: 2000,
      chain: { rpcUrl: "http://127.0.0.1:8545" },
    });
  });

  it("reads SSH_RELAY_KEYS from key lines and .pub files, and says which file it cannot read", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "compute-cfg-")), "relay.pub");
    fs.writeFileSync(file, "# the marketplace relay\nssh-ed25519 AAAAfile relay\n\n");
    const c = loadConfig({ SSH_RELAY_KEYS: `ssh-ed25519 AAAAinline other, ${file}` });
    expect(c.rentals.relayKeys).toEqual(["ssh-ed25519 AAAAinline other", "ssh-ed25519 AAAAfile relay"]);
    expect(loadConfig({}).rentals.relayKeys).toEqual([]);
    expect(() => loadConfig({ SSH_RELAY_KEYS: "/nonexistent/relay.pub" })).toThrow(
      /SSH_RELAY_KEYS: cannot read \/nonexistent\/relay.pub/,
    );
    expect(() => loadConfig({ RENTAL_INSTANCE: "Bad Name" })).toThrow(ConfigError);
    expect(loadConfig({ RENTAL_INSTANCE: "gpu-box-1" }).rentals.instance).toBe("gpu-box-1");
  });

  it("rejects an unknown backend", () => {
    expect(() => loadConfig({ MODEL_BACKEND: "tensorrt" })).toThrow(ConfigError);
  });
});
