// One error type for the whole service: a closed code, one status mapping, one envelope.
const ERROR_CODES = [
  'VALIDATION',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'GONE',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'RATE_LIMITED',
  'DISABLED',
  'GMAIL_AUTH',
  'UPSTREAM',
  'INTERNAL',
] as const;
type ErrorCode = (typeof ERROR_CODES)[number];

const STATUS: Record<ErrorCode, number> = {
  VALIDATION: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  GONE: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  DISABLED: 503,
  GMAIL_AUTH: 502,
  UPSTREAM: 502,
  INTERNAL: 500,
};

interface AppErrorOptions {
  field?: string;
  retryable?: boolean;
  retryAfterSec?: number;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly retryable: boolean;
  readonly retryAfterSec?: number;

  constructor(code: ErrorCode, message: string, opts: AppErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.field = opts.field;
    this.retryable = opts.retryable ?? false;
    this.retryAfterSec = opts.retryAfterSec;
  }

  get status(): number {
    return STATUS[this.code];
  }
}

interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; field?: string };
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('INTERNAL', 'internal error', { cause: err });
}

export function envelope(err: AppError): ErrorEnvelope {
  const body: ErrorEnvelope = { error: { code: err.code, message: err.message } };
  if (err.field !== undefined) body.error.field = err.field;
  return body;
}

/** The answer of every Gmail-facing operation while CRM_GMAIL_INTEGRATION_ENABLED is off. */
export const gmailDisabled = (consequence?: string) =>
  new AppError('DISABLED', `Gmail integration is disabled (CRM_GMAIL_INTEGRATION_ENABLED=false)${consequence ? `; ${consequence}` : ''}`);

export const validation = (field: string, message: string) =>
  new AppError('VALIDATION', message, { field });
