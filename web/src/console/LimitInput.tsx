// SPDX-License-Identifier: AGPL-3.0-or-later
import { useId } from 'react';
import { Field } from '../components/Field';

/** A limit: a whole number, or "unlimited" (null); empty means "not set here". */
export interface LimitValue {
  text: string;
  unlimited: boolean;
}

export const limitFrom = (v: number | null | undefined): LimitValue =>
  v === undefined ? { text: '', unlimited: false } : v === null ? { text: '', unlimited: true } : { text: String(v), unlimited: false };

export function LimitInput({
  label,
  unlimitedLabel,
  hint,
  error,
  value,
  onChange,
  testId,
}: {
  label: string;
  unlimitedLabel: string;
  hint?: string;
  error?: string | null;
  value: LimitValue;
  onChange: (v: LimitValue) => void;
  testId: string;
}) {
  const checkId = useId();
  return (
    <div className="limit-input">
      <Field label={label} hint={hint} error={error} testId={testId}>
        {(p) => (
          <input
            {...p}
            className="input input--number"
            inputMode="numeric"
            value={value.unlimited ? '' : value.text}
            disabled={value.unlimited}
            onChange={(e) => onChange({ ...value, text: e.target.value })}
          />
        )}
      </Field>
      <div className="field--inline">
        <input
          id={checkId}
          type="checkbox"
          checked={value.unlimited}
          onChange={(e) => onChange({ ...value, unlimited: e.target.checked })}
        />
        <label htmlFor={checkId}>{unlimitedLabel}</label>
      </div>
    </div>
  );
}
