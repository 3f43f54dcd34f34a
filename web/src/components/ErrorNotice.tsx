// SPDX-License-Identifier: AGPL-3.0-or-later
import { ApiError, NETWORK_ERROR } from '../api';
import { translateIssue } from '../fields';
import { useI18n } from '../i18n';

/**
 * Any failure as a person should see it: a title in their language chosen by the error code, the
 * server's own message, and the code and request ID to quote to support. 403 and 409 say what to
 * do, 422 lists the refused fields (unless the form shows them beside its fields: fieldsShown),
 * 429 says when to try again.
 */
export function ErrorNotice({
  error,
  timeZone = 'UTC',
  stale = false,
  fieldsShown = false,
  onRetry,
}: {
  error: Error;
  timeZone?: string;
  stale?: boolean;
  fieldsShown?: boolean;
  onRetry?: () => void;
}) {
  const i18n = useI18n();
  const api = error instanceof ApiError ? error : null;
  const code = api?.code ?? 'unexpected_response';
  const title = i18n.tMaybe(`err_${code}`, i18n.t('errorTitle'));

  let retryText: string | null = null;
  if (api?.status === 429) {
    if (api.retryAfterSeconds !== null) {
      const when = new Date(api.receivedAt + api.retryAfterSeconds * 1000);
      retryText = i18n.plural('errorRetryIn', api.retryAfterSeconds, { time: i18n.time(when) });
    } else {
      retryText = i18n.t('errorRetryLater');
    }
  }
  const resetsAt = api?.details['resets_at'];
  const fields = api?.status === 422 ? api.fields : [];

  return (
    <div className="notice notice--error" role="alert" data-testid="error-notice">
      <p className="notice__title">
        <span aria-hidden="true">⚠ </span>
        {title}
      </p>
      <p className="notice__message" data-testid="error-message">
        {error.message}
      </p>
      {retryText && (
        <p className="notice__retry" data-testid="error-retry">
          {retryText}
        </p>
      )}
      {typeof resetsAt === 'string' && (
        <p>{i18n.t('errorQuotaResets', { time: i18n.dateTime(resetsAt, timeZone) })}</p>
      )}
      {code === NETWORK_ERROR && <p>{i18n.t('errorNetwork')}</p>}
      {api?.status === 403 && <p data-testid="error-hint">{i18n.t('errorForbiddenHint')}</p>}
      {api?.status === 404 && <p data-testid="error-hint">{i18n.t('errorNotFoundHint')}</p>}
      {api?.status === 409 && <p data-testid="error-hint">{i18n.t('errorConflictHint')}</p>}
      {fields.length > 0 &&
        (fieldsShown ? (
          <p data-testid="error-hint">{i18n.t('errorFieldsBeside')}</p>
        ) : (
          <ul className="notice__fields" data-testid="error-fields">
            {fields.map((f) => (
              <li key={`${f.field}:${f.issue}`}>
                <code>{f.field}</code>: {translateIssue(i18n, f.issue)}
              </li>
            ))}
          </ul>
        ))}
      <dl className="notice__facts">
        <div>
          <dt>{i18n.t('errorCode')}</dt>
          <dd>
            <code data-testid="error-code">{code}</code>
            {api && api.status > 0 && <span className="muted"> (HTTP {api.status})</span>}
          </dd>
        </div>
        {api?.requestId && (
          <div>
            <dt>{i18n.t('errorRequestId')}</dt>
            <dd>
              <code data-testid="error-request-id" className="selectable">
                {api.requestId}
              </code>
            </dd>
          </div>
        )}
      </dl>
      {api?.requestId && <p className="muted">{i18n.t('errorSupport')}</p>}
      {stale && <p className="muted">{i18n.t('errorStaleData')}</p>}
      {onRetry && (
        <button type="button" className="button button--secondary" onClick={onRetry}>
          {i18n.t('tryAgain')}
        </button>
      )}
    </div>
  );
}
