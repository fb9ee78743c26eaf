/**
 * OpenAI-shaped errors, shared by the provider node and the gateway.
 *
 * Every failure a client can see is an `OpenAIError`: it carries the HTTP status and the four fields of
 * OpenAI's error body `{"error":{"message","type","param","code"}}`. Servers map it once (Hono `onError`).
 */

/** The `type` values OpenAI uses, plus the ones this project adds for upstream failures. */
export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "server_error"
  | "timeout_error"
  | "service_unavailable_error";

export type OpenAIErrorBody = {
  error: {
    message: string;
    type: OpenAIErrorType | (string & {});
    param: string | null;
    code: string | null;
  };
};

export type OpenAIErrorParameters = {
  type?: OpenAIErrorType | (string & {});
  param?: string | null;
  code?: string | null;
  cause?: unknown;
};

export class OpenAIError extends Error {
  override readonly name = "OpenAIError";
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;

  constructor(status: number, message: string, parameters: OpenAIErrorParameters = {}) {
    super(message, parameters.cause === undefined ? undefined : { cause: parameters.cause });
    this.status = status;
    this.type = parameters.type ?? (status >= 500 ? "server_error" : "invalid_request_error");
    this.param = parameters.param ?? null;
    this.code = parameters.code ?? null;
  }

  toJSON(): OpenAIErrorBody {
    return errorBody(this.message, this.type, this.param, this.code);
  }
}

export function errorBody(
  message: string,
  type: string,
  param: string | null = null,
  code: string | null = null,
): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

export function isOpenAIError(value: unknown): value is OpenAIError {
  return value instanceof OpenAIError;
}

/** 400: the body is not JSON. */
export function malformedJsonError(cause?: unknown): OpenAIError {
  return new OpenAIError(
    400,
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    { type: "invalid_request_error", cause },
  );
}

/** 400: a parameter is missing or has the wrong type or value. */
export function invalidRequestError(
  message: string,
  param: string | null = null,
  code: string | null = null,
): OpenAIError {
  return new OpenAIError(400, message, { type: "invalid_request_error", param, code });
}

/** 404: no backend serves this model. */
export function modelNotFoundError(model: string): OpenAIError {
  return new OpenAIError(404, `The model \`${model}\` does not exist or you do not have access to it.`, {
    type: "invalid_request_error",
    param: "model",
    code: "model_not_found",
  });
}

/** 404: unknown route. */
export function routeNotFoundError(method: string, path: string): OpenAIError {
  return new OpenAIError(404, `Invalid URL (${method} ${path})`, { type: "invalid_request_error", code: "not_found" });
}

/** 405: known route, wrong method. */
export function methodNotAllowedError(method: string, path: string): OpenAIError {
  return new OpenAIError(405, `Method not allowed (${method} ${path})`, {
    type: "invalid_request_error",
    code: "method_not_allowed",
  });
}

/** 413: body over the configured limit. */
export function bodyTooLargeError(limitBytes: number): OpenAIError {
  return new OpenAIError(413, `Request body too large: the limit is ${limitBytes} bytes.`, {
    type: "invalid_request_error",
    code: "request_too_large",
  });
}

/** 503: the backend that serves the model cannot be reached. */
export function backendUnavailableError(backend: string, cause?: unknown): OpenAIError {
  return new OpenAIError(503, `The ${backend} backend is unavailable. Please retry later.`, {
    type: "service_unavailable_error",
    code: "backend_unavailable",
    cause,
  });
}

/** 502: the upstream answered with a server error or something that is not its API. */
export function upstreamError(backend: string, detail: string, cause?: unknown): OpenAIError {
  return new OpenAIError(502, `The ${backend} backend failed: ${detail}`, {
    type: "server_error",
    code: "upstream_error",
    cause,
  });
}

/** 504: the request ran past the configured timeout. */
export function timeoutError(timeoutMs: number): OpenAIError {
  return new OpenAIError(504, `Request timed out after ${timeoutMs} ms.`, {
    type: "timeout_error",
    code: "timeout",
  });
}

/** 500: anything unexpected; the detail goes to the log, never to the client. */
export function internalError(cause?: unknown): OpenAIError {
  return new OpenAIError(500, "The server had an error while processing your request. Sorry about that!", {
    type: "server_error",
    cause,
  });
}

/** Coerce anything thrown into an OpenAIError (unknown errors become a generic 500). */
export function toOpenAIError(err: unknown): OpenAIError {
  return err instanceof OpenAIError ? err : internalError(err);
}
