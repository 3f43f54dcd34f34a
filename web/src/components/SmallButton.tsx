// SPDX-License-Identifier: AGPL-3.0-or-later
import type { ButtonHTMLAttributes } from 'react';

type Props = Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'type' | 'className'> & {
  variant?: 'secondary' | 'danger-outline';
};

/** The small button used for actions inside table rows and cards. */
export function SmallButton({ variant = 'secondary', ...rest }: Props) {
  return <button type="button" className={`button button--small button--${variant}`} {...rest} />;
}
