// SPDX-License-Identifier: AGPL-3.0-or-later
import { useId, useMemo, useState, type FormEvent } from 'react';
import { ApiError } from '../api';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { TableSkeleton } from '../components/Skeleton';
import { parseCount, serverFieldErrors, type FieldErrors } from '../fields';
import { useI18n, type I18n } from '../i18n';
import { useContract, usePutContract } from '../queries/accounts';
import { usePlans } from '../queries/plans';
import type { Contract, ContractInput, LimitMode, LimitsInput, Plan } from '../types';
import { LimitInput, limitFrom, type LimitValue } from './LimitInput';

const LIMIT_FIELDS = ['daily_limit', 'monthly_limit', 'overage_cap'] as const;
type LimitField = (typeof LIMIT_FIELDS)[number];

function timeZones(): string[] {
  try {
    return (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  } catch {
    return [];
  }
}

export function limitText(i18n: I18n, v: number | null | undefined): string {
  return v === null || v === undefined ? i18n.t('unlimited') : i18n.number(v);
}

/** The account's contract: what is in force, and the form that replaces it. */
export function ContractCard({ accountId }: { accountId: number }) {
  const i18n = useI18n();
  const headingId = useId();
  const contractQ = useContract(accountId);
  const plansQ = usePlans();
  const none = contractQ.error instanceof ApiError && contractQ.error.status === 404;
  const c = contractQ.data;
  // Here, not in the form: a saved contract comes back with a new updated_at and a fresh form.
  const [saved, setSaved] = useState(false);

  return (
    <section className="card" aria-labelledby={headingId} data-testid="contract-card">
      <h3 id={headingId}>{i18n.t('contractTitle')}</h3>
      {contractQ.error && !none && <ErrorNotice error={contractQ.error} onRetry={() => void contractQ.refetch()} />}
      {plansQ.error && <ErrorNotice error={plansQ.error} onRetry={() => void plansQ.refetch()} />}
      {none && (
        <p className="notice notice--info" data-testid="no-contract">
          {i18n.t('noContractYet')}
        </p>
      )}
      {c && <InForce c={c} />}
      {(c || none) && plansQ.data ? (
        <ContractForm
          key={c?.updated_at ?? 'new'}
          accountId={accountId}
          contract={c ?? null}
          plans={plansQ.data}
          onSaved={setSaved}
        />
      ) : (
        !contractQ.error && !plansQ.error && <TableSkeleton label={i18n.t('contractLoading')} rows={3} />
      )}
      <div role="status">
        {saved && (
          <p className="notice notice--success" data-testid="contract-saved">
            {i18n.t('contractSaved')}
          </p>
        )}
      </div>
    </section>
  );
}

function InForce({ c }: { c: Contract }) {
  const i18n = useI18n();
  const e = c.effective;
  return (
    <dl className="facts" data-testid="contract-in-force">
      <div>
        <dt>{i18n.t('plan')}</dt>
        <dd>
          {c.plan_name} <span className="muted">({c.plan_code})</span>
        </dd>
      </div>
      <div>
        <dt>{i18n.t('timezone')}</dt>
        <dd>{c.timezone}</dd>
      </div>
      <div>
        <dt>{i18n.t('dailyLimit')}</dt>
        <dd data-testid="effective-daily">{limitText(i18n, e.daily_limit)}</dd>
      </div>
      <div>
        <dt>{i18n.t('monthlyLimit')}</dt>
        <dd>{limitText(i18n, e.monthly_limit)}</dd>
      </div>
      <div>
        <dt>{i18n.t('mode')}</dt>
        <dd>
          <span className={`pill pill--${e.limit_mode}`}>{i18n.t(e.limit_mode === 'block' ? 'modeShort_block' : 'modeShort_overage')}</span>
        </dd>
      </div>
      {e.limit_mode === 'overage' && (
        <div>
          <dt>{i18n.t('overageCap')}</dt>
          <dd>{e.overage_cap === null ? i18n.t('noOverageCap') : i18n.number(e.overage_cap)}</dd>
        </div>
      )}
      <div>
        <dt>{i18n.t('contractSince')}</dt>
        <dd>{i18n.dateTime(c.starts_at, c.timezone)}</dd>
      </div>
    </dl>
  );
}

function ContractForm({
  accountId,
  contract,
  plans,
  onSaved,
}: {
  accountId: number;
  contract: Contract | null;
  plans: Plan[];
  onSaved: (saved: boolean) => void;
}) {
  const i18n = useI18n();
  const tzListId = useId();
  const zones = useMemo(() => timeZones(), []);
  const put = usePutContract(accountId);
  const o = contract?.overrides ?? {};
  const [planCode, setPlanCode] = useState(contract?.plan_code ?? '');
  const [timezone, setTimezone] = useState(contract?.timezone ?? 'UTC');
  const [mode, setMode] = useState<LimitMode | ''>(o.limit_mode ?? '');
  const [limits, setLimits] = useState<Record<LimitField, LimitValue>>({
    daily_limit: limitFrom(o.daily_limit),
    monthly_limit: limitFrom(o.monthly_limit),
    overage_cap: limitFrom(o.overage_cap),
  });
  const [local, setLocal] = useState<FieldErrors>({});
  const plan = plans.find((p) => p.code === planCode);
  const errors: FieldErrors = { ...serverFieldErrors(i18n, put.error), ...local };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSaved(false);
    const errs: FieldErrors = {};
    if (planCode === '') errs['plan_code'] = i18n.t('issue_required');
    if (timezone.trim() === '') errs['timezone'] = i18n.t('issue_required');
    // Limits the form does not show (rates, bursts) are kept as they are: a PUT replaces them all.
    const overrides: LimitsInput = { ...o };
    for (const f of LIMIT_FIELDS) {
      delete overrides[f];
      const v = limits[f];
      if (v.unlimited) {
        overrides[f] = null;
        continue;
      }
      const n = parseCount(v.text);
      if (!n.ok) errs[`overrides.${f}`] = i18n.t('issue_wholeNumber');
      else if (n.value !== null) overrides[f] = n.value;
    }
    if (mode === '') delete overrides.limit_mode;
    else overrides.limit_mode = mode;
    setLocal(errs);
    if (Object.keys(errs).length > 0) return;
    const body: ContractInput = { plan_code: planCode, timezone: timezone.trim(), overrides };
    put.mutate(body, { onSuccess: () => onSaved(true) });
  };

  const planHint = (f: LimitField) =>
    plan ? i18n.t('followsPlan', { value: limitText(i18n, plan[f]) }) : i18n.t('followsPlanNone');

  return (
    <form onSubmit={submit} noValidate className="form-grid" data-testid="contract-form">
      <Field label={i18n.t('plan')} error={errors['plan_code']} testId="contract-plan">
        {(p) => (
          <select {...p} className="input input--text" value={planCode} onChange={(e) => setPlanCode(e.target.value)} aria-required="true">
            <option value="">{i18n.t('choosePlan')}</option>
            {plans.map((pl) => (
              <option key={pl.code} value={pl.code}>
                {pl.name} ({pl.code})
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={i18n.t('timezone')} hint={i18n.t('timezoneHint')} error={errors['timezone']} testId="contract-timezone">
        {(p) => (
          <>
            <input
              {...p}
              className="input input--text"
              list={zones.length ? tzListId : undefined}
              value={timezone}
              onChange={(e) => setTimezone(e.target.value)}
              autoComplete="off"
            />
            {zones.length > 0 && (
              <datalist id={tzListId}>
                {zones.map((z) => (
                  <option key={z} value={z} />
                ))}
              </datalist>
            )}
          </>
        )}
      </Field>
      <Field label={i18n.t('mode')} error={errors['overrides.limit_mode']} testId="contract-mode">
        {(p) => (
          <select {...p} className="input input--text" value={mode} onChange={(e) => setMode(e.target.value as LimitMode | '')}>
            <option value="">
              {plan
                ? i18n.t('followsPlanMode', { value: i18n.t(plan.limit_mode === 'block' ? 'modeShort_block' : 'modeShort_overage') })
                : i18n.t('followsPlanNone')}
            </option>
            <option value="block">{i18n.t('mode_block')}</option>
            <option value="overage">{i18n.t('mode_overage')}</option>
          </select>
        )}
      </Field>
      {LIMIT_FIELDS.map((f) => (
        <LimitInput
          key={f}
          label={i18n.t(f === 'daily_limit' ? 'dailyLimit' : f === 'monthly_limit' ? 'monthlyLimit' : 'overageCap')}
          unlimitedLabel={i18n.t(f === 'overage_cap' ? 'noCap' : 'unlimited')}
          hint={planHint(f)}
          error={errors[`overrides.${f}`]}
          value={limits[f]}
          onChange={(v) => setLimits((l) => ({ ...l, [f]: v }))}
          testId={`contract-${f}`}
        />
      ))}
      <div className="form-actions">
        <button type="submit" className="button" aria-disabled={put.isPending || undefined}>
          {put.isPending ? i18n.t('working') : i18n.t(contract ? 'saveContract' : 'setContract')}
        </button>
      </div>
      {put.error && <ErrorNotice error={put.error} fieldsShown={Object.keys(serverFieldErrors(i18n, put.error)).length > 0} />}
    </form>
  );
}
