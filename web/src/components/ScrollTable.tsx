// SPDX-License-Identifier: AGPL-3.0-or-later
import type { ReactNode } from 'react';

/** One header cell: `numeric` right-aligns it, `hidden` keeps the label for screen readers only. */
export type TableColumn = { key: string; label: ReactNode; numeric?: boolean; hidden?: boolean };

type Labelled = { label: string; labelledBy?: never } | { labelledBy: string; label?: never };

type Props = Labelled & {
  testId: string;
  columns: TableColumn[];
  /** Extra class names for the table, added after `table`. */
  className?: string;
  /** Caption, said to screen readers only. */
  caption?: ReactNode;
  /** Rows of the tfoot, if any. */
  footer?: ReactNode;
  /** Rows of the tbody. */
  children: ReactNode;
};

/**
 * A data table in a region that scrolls on narrow screens. The region is focusable so a keyboard can scroll it
 * too; it is named either by `label` or by the element whose id is `labelledBy`.
 */
export function ScrollTable({ label, labelledBy, testId, columns, className, caption, footer, children }: Props) {
  return (
    // eslint-disable-next-line jsx-a11y/no-noninteractive-tabindex
    <div className="table-scroll" role="region" aria-label={label} aria-labelledby={labelledBy} tabIndex={0}>
      <table className={className ? `table ${className}` : 'table'} data-testid={testId}>
        {caption !== undefined && <caption className="visually-hidden">{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.key} scope="col" className={c.numeric ? 'num' : undefined}>
                {c.hidden ? <span className="visually-hidden">{c.label}</span> : c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
        {footer !== undefined && <tfoot>{footer}</tfoot>}
      </table>
    </div>
  );
}
