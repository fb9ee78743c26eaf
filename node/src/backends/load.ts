/**
 * Build the backends MODEL_BACKEND names, in order. A backend that cannot start (the embedded model
 * file is missing, no engine binary) is logged and left out; the others still serve.
 */
import { existsSync } from "node:fs";
import type { NodeConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { LlamaCppBackend } from "./llamacpp.ts";
import { MockBackend } from "./mock.ts";
import { OllamaBackend } from "./ollama.ts";
import { OpenAICompatibleBackend } from "./openai.ts";
import { errorMessage } from "./registry.ts";
import type { Backend } from "./types.ts";

export async function loadBackends(config: NodeConfig, log: Logger): Promise<Backend[]> {
  const backends: Backend[] = [];
  for (const kind of config.backends) {
    switch (kind) {
      case "mock":
        backends.push(new MockBackend());
        break;
      case "ollama":
        backends.push(new OllamaBackend({ host: config.ollamaHost }));
        log.info({ host: config.ollamaHost }, "ollama backend");
        break;
      case "openai":
        backends.push(new OpenAICompatibleBackend({ baseUrl: config.openaiBaseUrl, apiKey: config.openaiApiKey }));
        log.info({ baseUrl: config.openaiBaseUrl, apiKey: config.openaiApiKey ? "set" : "unset" }, "openai backend");
        break;
      case "llamacpp": {
        if (!existsSync(config.modelPath)) {
          log.warn(
            { modelPath: config.modelPath },
            "embedded model file not found: the llamacpp backend is off (set MODEL_PATH to a GGUF file)",
          );
          break;
        }
        try {
          backends.push(
            await LlamaCppBackend.load({
              modelPath: config.modelPath,
              log,
              contextSize: config.llama.contextSize,
              sequences: config.llama.sequences,
              threads: config.llama.threads,
              gpu: config.llama.gpu,
            }),
          );
        } catch (err) {
          log.warn({ err: errorMessage(err), modelPath: config.modelPath }, "could not load the embedded model");
        }
        break;
      }
    }
  }
  return backends;
}
