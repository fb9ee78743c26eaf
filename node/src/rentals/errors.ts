/**
 * Errors of the rentals core, each with a stable `code` (routes map them to HTTP once, in `app.onError`).
 * `status` is the HTTP status a route should answer with.
 */
export class RentalError extends Error {
  override readonly name: string = "RentalError";
  readonly code: string;
  readonly status: number;
  constructor(message: string, code: string, status: number, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
  }
}

/** The session has no such container (also: the container belongs to another session). */
export class ContainerNotFoundError extends RentalError {
  override readonly name = "ContainerNotFoundError";
  constructor(sessionId: string, containerId: string) {
    super(`session ${sessionId} has no container ${containerId}`, "container_not_found", 404);
  }
}

/** A containers-API request the node refuses (bad volume path, port out of range, too many containers…). */
export class InvalidContainerRequestError extends RentalError {
  override readonly name = "InvalidContainerRequestError";
  constructor(
    message: string,
    readonly param?: string,
  ) {
    super(message, "invalid_container_request", 400);
  }
}

/** The session is not (or no longer) running here. */
export class SessionNotRunningError extends RentalError {
  override readonly name = "SessionNotRunningError";
  constructor(sessionId: string, status?: string) {
    super(`session ${sessionId} is not running here${status ? ` (status ${status})` : ""}`, "session_not_running", 409);
  }
}

/** Not enough free GPUs (or none on this host) for the session's gpuCount. */
export class InsufficientGpusError extends RentalError {
  override readonly name = "InsufficientGpusError";
  constructor(
    readonly requested: number,
    readonly available: number,
  ) {
    super(`session wants ${requested} GPU(s), ${available} free on this host`, "insufficient_gpus", 409);
  }
}

/** MAX_RENTALS sessions already run here. */
export class CapacityExceededError extends RentalError {
  override readonly name = "CapacityExceededError";
  constructor(readonly maxRentals: number) {
    super(`this node already runs its maximum of ${maxRentals} rentals`, "capacity_exceeded", 409);
  }
}

/** dockerd did not answer or failed; retryable. */
export class DockerError extends RentalError {
  override readonly name = "DockerError";
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "docker_error", 503, options);
  }
}

/** HTTP status of a dockerode error, if it carries one. */
export function dockerStatus(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "statusCode" in err) {
    const s = (err as { statusCode?: unknown }).statusCode;
    return typeof s === "number" ? s : undefined;
  }
  return undefined;
}
