/**
 * Errors of the indexer client. Every error has a stable `code`; `retryable` says whether trying again
 * later can help (network failures, 5xx, 429), as opposed to a bad request or a missing record.
 */
export class IndexerError extends Error {
  override name = "IndexerError";
  readonly code: string;
  readonly retryable: boolean;
  constructor(message: string, opts: { code: string; retryable?: boolean; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = opts.code;
    this.retryable = opts.retryable ?? false;
  }
}

/** The indexer could not be reached or did not answer in time. */
export class IndexerUnavailableError extends IndexerError {
  override name = "IndexerUnavailableError";
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`indexer unreachable at ${url}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      code: "indexer_unavailable",
      retryable: true,
      cause,
    });
  }
}

/** The indexer answered with a non-2xx status. `code` is the error code of its body when it has one. */
export class IndexerHttpError extends IndexerError {
  override name = "IndexerHttpError";
  constructor(
    message: string,
    readonly status: number,
    code: string,
    readonly param: string | null = null,
  ) {
    super(message, { code, retryable: status >= 500 || status === 429 });
  }
}

/** 404: no such provider or session (`code` is `provider_not_found` or `session_not_found`). */
export class IndexerNotFoundError extends IndexerHttpError {
  override name = "IndexerNotFoundError";
}

/** 400: a filter or id the indexer rejected. */
export class IndexerBadRequestError extends IndexerHttpError {
  override name = "IndexerBadRequestError";
}

/** The answer was not the JSON expected. */
export class IndexerResponseError extends IndexerError {
  override name = "IndexerResponseError";
  constructor(message: string) {
    super(message, { code: "invalid_indexer_response", retryable: true });
  }
}

/** A GraphQL answer with `errors`. */
export class IndexerGraphQLError extends IndexerError {
  override name = "IndexerGraphQLError";
  constructor(readonly errors: ReadonlyArray<{ message: string; path?: ReadonlyArray<string | number> }>) {
    super(`GraphQL: ${errors.map((e) => e.message).join("; ")}`, { code: "graphql_error" });
  }
}
