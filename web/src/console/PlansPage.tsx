// SPDX-License-Identifier: AGPL-3.0-or-later
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { ScrollTable } from '../components/ScrollTable';
import { TableSkeleton } from '../components/Skeleton';
import { SmallButton } from '../components/SmallButton';
import { parseCount, parseThresholds, serverFieldErrors, type FieldErrors } from '../fields';
import { useI18n, type MessageKey } from '../i18n';
import { useCreatePlan, usePatchPlan, usePlans } from '../queries/plans';
import type { LimitMode, Plan, PlanInput } from '../types';
import { PageHeading } from './Console';
import { limitText } from './ContractCard';
import { LimitInput, limitFrom, type LimitValue } from './LimitInput';

const NULLABLE = ['daily_limit', 'monthly_limit', 'overage_cap'] as const;
const RATES = ['rate_per_second', 'burst', 'credential_rate_per_second', 'credential_burst'] as const;
const RATE_LABEL: Record<(typeof RATES)[number], MessageKey> = {
  rate_per_second: 'ratePerSecond',
  burst: 'burst',
  credential_rate_per_second: 'credentialRatePerSecond',
  credential_burst: 'credentialBurst',
};
const LIMIT_LABEL: Record<(typeof NULLABLE)[number], MessageKey> = {
  daily_limit: 'dailyLimit',
  monthly_limit: 'monthlyLimit',
  overage_cap: 'overageCap',
};

type Editing = { kind: 'new' } | { kind: 'edit'; plan: Plan } | null;

export function PlansPage() {
  const i18n = useI18n();
  const plansQ = usePlans();
  const [editing, setEditing] = useState<Editing>(null);
  const [done, setDone] = useState<string | null>(null);
  const listId = useId();
  const plans = plansQ.data;

  return (
    <div className="page" data-testid="plans-page">
      <PageHeading>{i18n.t('plansTitle')}</PageHeading>
      <div className="toolbar">
        <p className="muted toolbar__status">{i18n.t('plansIntro')}</p>
        <button
          type="button"
          className="button"
          onClick={() => {
            setDone(null);
            setEditing({ kind: 'new' });
          }}
        >
          {i18n.t('newPlan')}
        </button>
      </div>
      <div role="status">
        {done && (
          <p className="notice notice--success" data-testid="plan-saved">
            {done}
          </p>
        )}
      </div>
      {editing && (
        <PlanForm
          key={editing.kind === 'edit' ? editing.plan.code : 'new'}
          plan={editing.kind === 'edit' ? editing.plan : null}
          onCancel={() => setEditing(null)}
          onSaved={(p, created) => {
            setEditing(null);
            setDone(i18n.t(created ? 'planCreated' : 'planUpdated', { name: p.name }));
          }}
        />
      )}
      <section className="card" aria-labelledby={listId}>
        <h3 id={listId}>{i18n.t('plansListTitle')}</h3>
        {plansQ.error && <ErrorNotice error={plansQ.error} stale={plans !== undefined} onRetry={() => void plansQ.refetch()} />}
        {!plans && !plansQ.error && <TableSkeleton label={i18n.t('plansLoading')} />}
        {plans && (
          <>
            <p className="muted" data-testid="plans-count">
              {i18n.plural('plansCount', plans.length)}
            </p>
            {plans.length === 0 ? (
              <p className="empty" data-testid="plans-empty">
                {i18n.t('plansNone')}
              </p>
            ) : (
              <ScrollTable
                label={i18n.t('plansListTitle')}
                testId="plans-table"
                columns={[
                  { key: 'name', label: i18n.t('planName') },
                  { key: 'metered', label: i18n.t('planMetered') },
                  { key: 'daily', label: i18n.t('dailyLimit'), numeric: true },
                  { key: 'monthly', label: i18n.t('monthlyLimit'), numeric: true },
                  { key: 'mode', label: i18n.t('mode') },
                  { key: 'rate', label: i18n.t('rateColumn'), numeric: true },
                  { key: 'actions', label: i18n.t('colActions'), hidden: true },
                ]}
              >
                {plans.map((p) => (
                  <tr key={p.code} data-testid={`plan-row-${p.code}`}>
                    <th scope="row">
                      {p.name} <code className="muted">{p.code}</code>
                    </th>
                    <td>{i18n.t(p.metered ? 'yes' : 'no')}</td>
                    <td className="num">{limitText(i18n, p.daily_limit)}</td>
                    <td className="num">{limitText(i18n, p.monthly_limit)}</td>
                    <td>
                      <span className={`pill pill--${p.limit_mode}`}>
                        {i18n.t(p.limit_mode === 'block' ? 'modeShort_block' : 'modeShort_overage')}
                      </span>
                      {p.limit_mode === 'overage' && (
                        <span className="cell-note">
                          {i18n.t('capN', { n: p.overage_cap === null ? i18n.t('noOverageCap') : i18n.number(p.overage_cap) })}
                        </span>
                      )}
                    </td>
                    <td className="num">
                      {i18n.t('rateValue', { rate: i18n.number(p.rate_per_second), burst: i18n.number(p.burst) })}
                    </td>
                    <td>
                      <SmallButton
                        aria-label={i18n.t('editNamed', { name: p.name })}
                        onClick={() => {
                          setDone(null);
                          setEditing({ kind: 'edit', plan: p });
                        }}
                      >
                        {i18n.t('edit')}
                      </SmallButton>
                    </td>
                  </tr>
                ))}
              </ScrollTable>
            )}
          </>
        )}
      </section>
    </div>
  );
}

function PlanForm({
  plan,
  onCancel,
  onSaved,
}: {
  plan: Plan | null;
  onCancel: () => void;
  onSaved: (p: Plan, created: boolean) => void;
}) {
  const i18n = useI18n();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const headingId = useId();
  const create = useCreatePlan();
  const patch = usePatchPlan();
  const m = plan ? patch : create;
  const [code, setCode] = useState(plan?.code ?? '');
  const [name, setName] = useState(plan?.name ?? '');
  const [metered, setMetered] = useState(plan?.metered ?? true);
  const [mode, setMode] = useState<LimitMode>(plan?.limit_mode ?? 'block');
  const [limits, setLimits] = useState<Record<(typeof NULLABLE)[number], LimitValue>>({
    daily_limit: plan ? limitFrom(plan.daily_limit) : { text: '', unlimited: false },
    monthly_limit: plan ? limitFrom(plan.monthly_limit) : { text: '', unlimited: false },
    overage_cap: plan ? limitFrom(plan.overage_cap) : { text: '', unlimited: true },
  });
  const [rates, setRates] = useState<Record<(typeof RATES)[number], string>>({
    rate_per_second: String(plan?.rate_per_second ?? 50),
    burst: String(plan?.burst ?? 100),
    credential_rate_per_second: String(plan?.credential_rate_per_second ?? 20),
    credential_burst: String(plan?.credential_burst ?? 40),
  });
  const [thresholds, setThresholds] = useState((plan?.alert_thresholds ?? [80, 100]).join(', '));
  const [local, setLocal] = useState<FieldErrors>({});
  const errors: FieldErrors = { ...serverFieldErrors(i18n, m.error), ...local };
  const meteredId = useId();

  useEffect(() => headingRef.current?.focus(), []);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const errs: FieldErrors = {};
    const body: PlanInput = { code: code.trim(), name: name.trim(), metered, limit_mode: mode };
    if (!plan && body.code === '') errs['code'] = i18n.t('issue_required');
    else if (!plan && !/^[a-z0-9_-]{1,64}$/.test(body.code)) errs['code'] = i18n.t('issue_planCode');
    if (body.name === '') errs['name'] = i18n.t('issue_required');
    for (const f of NULLABLE) {
      const v = limits[f];
      if (v.unlimited) {
        body[f] = null;
        continue;
      }
      const n = parseCount(v.text);
      if (!n.ok) errs[f] = i18n.t('issue_wholeNumber');
      // Empty means unlimited for a plan: a plan has nothing to follow.
      else body[f] = n.value;
    }
    for (const f of RATES) {
      const n = parseCount(rates[f]);
      if (!n.ok || n.value === null || n.value < 1) errs[f] = i18n.t('issue_positive');
      else body[f] = n.value;
    }
    const t = parseThresholds(thresholds);
    if (!t.ok) errs['alert_thresholds'] = i18n.t('issue_thresholds');
    else body.alert_thresholds = t.value;
    setLocal(errs);
    if (Object.keys(errs).length > 0) return;
    if (plan) {
      const { code: _code, ...rest } = body;
      patch.mutate({ code: plan.code, patch: rest }, { onSuccess: (p) => onSaved(p, false) });
    } else {
      create.mutate(body, { onSuccess: (p) => onSaved(p, true) });
    }
  };

  return (
    <section className="card" aria-labelledby={headingId} data-testid="plan-form">
      <h3 id={headingId} ref={headingRef} tabIndex={-1}>
        {plan ? i18n.t('editPlanTitle', { name: plan.name }) : i18n.t('newPlan')}
      </h3>
      <form onSubmit={submit} noValidate className="form-grid">
        <Field label={i18n.t('planCode')} hint={i18n.t('planCodeHint')} error={errors['code']} testId="plan-code">
          {(p) => (
            <input
              {...p}
              className="input"
              value={code}
              readOnly={plan !== null}
              onChange={(e) => setCode(e.target.value)}
              autoCapitalize="off"
              spellCheck={false}
              aria-required="true"
            />
          )}
        </Field>
        <Field label={i18n.t('planName')} error={errors['name']} testId="plan-name">
          {(p) => (
            <input {...p} className="input input--text" value={name} maxLength={200} onChange={(e) => setName(e.target.value)} aria-required="true" />
          )}
        </Field>
        <Field label={i18n.t('mode')} error={errors['limit_mode']} testId="plan-mode">
          {(p) => (
            <select {...p} className="input input--text" value={mode} onChange={(e) => setMode(e.target.value as LimitMode)}>
              <option value="block">{i18n.t('mode_block')}</option>
              <option value="overage">{i18n.t('mode_overage')}</option>
            </select>
          )}
        </Field>
        {NULLABLE.map((f) => (
          <LimitInput
            key={f}
            label={i18n.t(LIMIT_LABEL[f])}
            unlimitedLabel={i18n.t(f === 'overage_cap' ? 'noCap' : 'unlimited')}
            error={errors[f]}
            value={limits[f]}
            onChange={(v) => setLimits((l) => ({ ...l, [f]: v }))}
            testId={`plan-${f}`}
          />
        ))}
        {RATES.map((f) => (
          <Field key={f} label={i18n.t(RATE_LABEL[f])} error={errors[f]} testId={`plan-${f}`}>
            {(p) => (
              <input
                {...p}
                className="input input--number"
                inputMode="numeric"
                value={rates[f]}
                onChange={(e) => setRates((r) => ({ ...r, [f]: e.target.value }))}
              />
            )}
          </Field>
        ))}
        <Field
          label={i18n.t('alertThresholds')}
          hint={i18n.t('alertThresholdsHint')}
          error={errors['alert_thresholds']}
          testId="plan-alert_thresholds"
        >
          {(p) => (
            <input {...p} className="input input--text" value={thresholds} onChange={(e) => setThresholds(e.target.value)} />
          )}
        </Field>
        <div className="field field--inline">
          <input id={meteredId} type="checkbox" checked={metered} onChange={(e) => setMetered(e.target.checked)} />
          <label htmlFor={meteredId}>{i18n.t('planMeteredLabel')}</label>
        </div>
        <div className="form-actions">
          <button type="submit" className="button" aria-disabled={m.isPending || undefined}>
            {m.isPending ? i18n.t('working') : i18n.t(plan ? 'savePlan' : 'createPlan')}
          </button>
          <button type="button" className="button button--secondary" onClick={onCancel}>
            {i18n.t('cancel')}
          </button>
        </div>
        {m.error && <ErrorNotice error={m.error} fieldsShown={Object.keys(serverFieldErrors(i18n, m.error)).length > 0} />}
      </form>
    </section>
  );
}
