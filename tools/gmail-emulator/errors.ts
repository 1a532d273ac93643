// Google's JSON error envelope, worded as Gmail and Google's token endpoint word it, so client
// code that matches on `reason`, `status` or `error` sees what it would see in production.

interface GoogleErrorItem {
  message: string;
  domain: string;
  reason: string;
  location?: string;
  locationType?: string;
}

interface GoogleErrorBody {
  error: { code: number; message: string; errors: GoogleErrorItem[]; status: string };
}

/** An answer the Gmail API gives instead of a resource; thrown by handlers, written by the server. */
export class GmailError extends Error {
  constructor(
    readonly status: number,
    readonly body: GoogleErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.error.message);
    this.name = 'GmailError';
  }
}

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function googleError(
  code: number,
  reason: string,
  message: string,
  opts: { domain?: string; status?: string; headers?: Record<string, string>; item?: Partial<GoogleErrorItem> } = {},
): GmailError {
  const item: GoogleErrorItem = { message, domain: opts.domain ?? 'global', reason, ...opts.item };
  return new GmailError(
    code,
    { error: { code, message, errors: [item], status: opts.status ?? STATUS_NAMES[code] ?? 'UNKNOWN' } },
    opts.headers,
  );
}

export const errors = {
  notFound: () => googleError(404, 'notFound', 'Requested entity was not found.'),
  invalidArgument: (message: string) => googleError(400, 'invalidArgument', message),
  badRequest: (message: string) => googleError(400, 'badRequest', message),
  unauthenticated: () =>
    googleError(
      401,
      'authError',
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
      { item: { message: 'Invalid Credentials', location: 'Authorization', locationType: 'header' } },
    ),
  delegationDenied: (userId: string) => googleError(403, 'forbidden', `Delegation denied for ${userId}`),
  insufficientScopes: () =>
    googleError(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.', {
      item: { message: 'Insufficient Permission' },
    }),
  mailServiceNotEnabled: () => googleError(400, 'failedPrecondition', 'Mail service not enabled', { status: 'FAILED_PRECONDITION' }),
  preconditionFailed: () => googleError(400, 'failedPrecondition', 'Precondition check failed.', { status: 'FAILED_PRECONDITION' }),
  backendError: () => googleError(500, 'backendError', 'Backend Error'),
  unavailable: () => googleError(503, 'backendError', 'The service is currently unavailable.'),
  rateLimited429: (headers?: Record<string, string>) =>
    googleError(429, 'rateLimitExceeded', 'Resource has been exhausted (e.g. check quota).', { headers }),
  userRateLimited403: (retryAtIso: string, headers?: Record<string, string>) =>
    googleError(403, 'userRateLimitExceeded', `User-rate limit exceeded.  Retry after ${retryAtIso}`, {
      domain: 'usageLimits',
      headers,
    }),
  tooManyConcurrent: () => googleError(429, 'rateLimitExceeded', 'Too many concurrent requests for user.'),
  dailyLimit: () =>
    googleError(403, 'dailyLimitExceeded', 'Daily bandwidth limit exceeded for user.', { domain: 'usageLimits' }),
};

/** The token endpoint's error shape: `{"error": "...", "error_description": "..."}`. */
export class TokenError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
    this.name = 'TokenError';
  }
  toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}
