// SPDX-License-Identifier: AGPL-3.0-or-later
// English and French text, the language switch's state, and locale-aware formatters.
import { createContext, useContext, useMemo, type ReactNode } from 'react';

export type Lang = 'en' | 'fr';
export const LANGS: readonly Lang[] = ['en', 'fr'];

const en = {
  appTitle: 'API usage',
  appSubtitle: 'Your contract, consumption and limits',
  language: 'Language',
  langName_en: 'English',
  langName_fr: 'Français',
  skipToContent: 'Skip to content',

  signInTitle: 'Sign in with your API key',
  signInIntro:
    'Paste one of your organisation’s API keys to see its usage. The key is kept only in this browser tab and forgotten when you sign out or close the tab.',
  apiKeyLabel: 'API key',
  apiKeyHint: 'It starts with sm_live_.',
  showKey: 'Show key',
  signIn: 'Sign in',
  signOut: 'Sign out',
  keyRequired: 'Enter an API key.',
  signedOutNotice: 'You are signed out. The key has been forgotten.',
  sessionEnded: 'Your key was refused and has been forgotten. Check it and sign in again.',

  refresh: 'Refresh',
  refreshing: 'Refreshing…',
  updatedAt: 'Updated {time}',
  autoRefresh: 'Refreshes every 30 seconds.',
  loading: 'Loading usage…',

  account: 'Account',
  plan: 'Plan',
  mode: 'When a limit is reached',
  mode_block: 'Calls are refused (block mode)',
  mode_overage: 'Calls continue as overage',
  overageCap: 'Overage cap',
  noOverageCap: 'no cap',
  timezone: 'Time zone',
  notMetered: 'This plan is not metered: calls are not counted against limits.',

  today: 'Today',
  thisMonth: 'This month',
  used: 'Used',
  limit: 'Limit',
  remaining: 'Remaining',
  overage: 'Overage',
  blocked: 'Blocked',
  unlimited: 'Unlimited',
  noLimitPeriod: 'No limit applies to this period.',
  resetsAt: 'Resets {time}',
  gaugeLabel: '{period}: usage of the limit',
  gaugeValueText: '{used} of {limit} calls ({percent}) — {status}',
  status_ok: 'Within limit',
  status_warning: 'Nearing the limit',
  status_danger: 'Limit reached',
  status_over: 'Over the limit',
  dangerBlock: 'New calls are refused (HTTP 429) until the limit resets {time}.',
  dangerOverage: 'New calls are served as overage until the limit resets {time}.',
  warningHint: '80% or more of the limit is used.',

  cumulativeTitle: 'Since the contract started',
  cumulativeSince: 'Since {date}',
  totalUsed: 'Calls served',
  totalOverage: 'Served as overage',
  totalBlocked: 'Refused by a limit',

  credentialsTitle: 'API keys',
  credentialsCaption: 'Usage per API key of this account',
  colKeyId: 'Key ID',
  colLabel: 'Label',
  colStatus: 'Status',
  colToday: 'Today',
  colMonth: 'This month',
  colLastUsed: 'Last used',
  keyStatus_active: 'Active',
  keyStatus_revoked: 'Revoked',
  never: 'Never',
  noCredentials: 'This account has no API keys.',
  withOverage: 'overage: {n}',
  withBlocked: 'blocked: {n}',

  historyTitle: 'Last 30 days',
  historyChartLabel: 'Bar chart of calls per day over the last 30 days. The same data is available as a table below.',
  historySummary: 'From {from} to {to}. Calls served: {requests} (as overage: {overage}). Refused: {blocked}.',
  historyBusiest: 'Busiest day: {date} ({n}).',
  historyNoCalls: 'No calls in this period.',
  showTable: 'Show the data as a table',
  series_within: 'Served within the limit',
  series_overage: 'Served as overage',
  series_blocked: 'Refused (blocked)',
  colDate: 'Date',
  colRequests: 'Calls served',
  colOverage: 'Of which overage',
  colBlocked: 'Refused',
  total: 'Total',
  historyLoading: 'Loading the daily history…',

  emptyTitle: 'No calls yet',
  emptyBody:
    'This account has not made any API call yet. Make a first call, for example with curl, and it will appear here within a few seconds:',
  emptyKeyNote: 'Replace the masked part with your full API key.',

  errorTitle: 'Something went wrong',
  errorCode: 'Error code',
  errorRequestId: 'Request ID',
  errorSupport: 'If you contact support, quote the request ID.',
  errorRetryIn: 'Too many requests. You can try again in {seconds} seconds (at {time}).',
  errorRetryLater: 'Too many requests. Please wait a moment before trying again.',
  errorQuotaResets: 'The limit resets {time}.',
  errorNetwork: 'The server could not be reached. Check your connection.',
  errorStaleData: 'The figures below may be out of date.',
  tryAgain: 'Try again',

  err_missing_api_key: 'No API key was sent.',
  err_invalid_api_key: 'This API key is not recognised.',
  err_revoked_api_key: 'This API key has been revoked.',
  err_expired_api_key: 'This API key has expired.',
  err_account_suspended: 'This account is suspended.',
  err_forbidden: 'This key may not see this information.',
  err_not_found: 'This information was not found.',
  err_rate_limited: 'Too many requests.',
  err_b2b_quota_exceeded: 'The contractual limit is reached.',
  err_store_unavailable: 'The service is temporarily unavailable.',
  err_internal_error: 'An internal error occurred on the server.',
  err_validation_error: 'The request was not valid.',
  err_bad_request: 'The request was not valid.',
  err_network_error: 'The server could not be reached.',
  err_unexpected_response: 'The server gave an unexpected answer.',
};

export type MessageKey = keyof typeof en;
type Dict = Record<MessageKey, string>;

const fr: Dict = {
  appTitle: 'Consommation de l’API',
  appSubtitle: 'Votre contrat, votre consommation et vos limites',
  language: 'Langue',
  langName_en: 'English',
  langName_fr: 'Français',
  skipToContent: 'Aller au contenu',

  signInTitle: 'Connexion avec votre clé d’API',
  signInIntro:
    'Collez l’une des clés d’API de votre organisation pour voir sa consommation. La clé est gardée uniquement dans cet onglet et oubliée à la déconnexion ou à la fermeture de l’onglet.',
  apiKeyLabel: 'Clé d’API',
  apiKeyHint: 'Elle commence par sm_live_.',
  showKey: 'Afficher la clé',
  signIn: 'Se connecter',
  signOut: 'Se déconnecter',
  keyRequired: 'Saisissez une clé d’API.',
  signedOutNotice: 'Vous êtes déconnecté. La clé a été oubliée.',
  sessionEnded: 'Votre clé a été refusée et a été oubliée. Vérifiez-la et reconnectez-vous.',

  refresh: 'Actualiser',
  refreshing: 'Actualisation…',
  updatedAt: 'Mis à jour {time}',
  autoRefresh: 'Actualisé toutes les 30 secondes.',
  loading: 'Chargement de la consommation…',

  account: 'Compte',
  plan: 'Forfait',
  mode: 'Quand une limite est atteinte',
  mode_block: 'Les appels sont refusés (mode blocage)',
  mode_overage: 'Les appels continuent en dépassement',
  overageCap: 'Plafond de dépassement',
  noOverageCap: 'aucun plafond',
  timezone: 'Fuseau horaire',
  notMetered: 'Ce forfait n’est pas décompté : les appels ne comptent pas dans les limites.',

  today: 'Aujourd’hui',
  thisMonth: 'Ce mois-ci',
  used: 'Consommé',
  limit: 'Limite',
  remaining: 'Restant',
  overage: 'Dépassement',
  blocked: 'Bloqués',
  unlimited: 'Illimité',
  noLimitPeriod: 'Aucune limite ne s’applique à cette période.',
  resetsAt: 'Remise à zéro {time}',
  gaugeLabel: '{period} : part de la limite consommée',
  gaugeValueText: '{used} sur {limit} appels ({percent}) — {status}',
  status_ok: 'Dans la limite',
  status_warning: 'Limite bientôt atteinte',
  status_danger: 'Limite atteinte',
  status_over: 'Limite dépassée',
  dangerBlock: 'Les nouveaux appels sont refusés (HTTP 429) jusqu’à la remise à zéro {time}.',
  dangerOverage: 'Les nouveaux appels sont servis en dépassement jusqu’à la remise à zéro {time}.',
  warningHint: '80 % ou plus de la limite est consommé.',

  cumulativeTitle: 'Depuis le début du contrat',
  cumulativeSince: 'Depuis le {date}',
  totalUsed: 'Appels servis',
  totalOverage: 'Servis en dépassement',
  totalBlocked: 'Refusés par une limite',

  credentialsTitle: 'Clés d’API',
  credentialsCaption: 'Consommation par clé d’API de ce compte',
  colKeyId: 'Identifiant de clé',
  colLabel: 'Libellé',
  colStatus: 'État',
  colToday: 'Aujourd’hui',
  colMonth: 'Ce mois-ci',
  colLastUsed: 'Dernière utilisation',
  keyStatus_active: 'Active',
  keyStatus_revoked: 'Révoquée',
  never: 'Jamais',
  noCredentials: 'Ce compte n’a aucune clé d’API.',
  withOverage: 'en dépassement : {n}',
  withBlocked: 'bloqués : {n}',

  historyTitle: '30 derniers jours',
  historyChartLabel:
    'Histogramme des appels par jour sur les 30 derniers jours. Les mêmes données sont disponibles sous forme de tableau ci-dessous.',
  historySummary: 'Du {from} au {to}. Appels servis : {requests} (en dépassement : {overage}). Refusés : {blocked}.',
  historyBusiest: 'Jour le plus chargé : {date} ({n}).',
  historyNoCalls: 'Aucun appel sur cette période.',
  showTable: 'Afficher les données sous forme de tableau',
  series_within: 'Servis dans la limite',
  series_overage: 'Servis en dépassement',
  series_blocked: 'Refusés (bloqués)',
  colDate: 'Date',
  colRequests: 'Appels servis',
  colOverage: 'Dont dépassement',
  colBlocked: 'Refusés',
  total: 'Total',
  historyLoading: 'Chargement de l’historique quotidien…',

  emptyTitle: 'Aucun appel pour l’instant',
  emptyBody:
    'Ce compte n’a encore fait aucun appel à l’API. Faites un premier appel, par exemple avec curl, et il apparaîtra ici en quelques secondes :',
  emptyKeyNote: 'Remplacez la partie masquée par votre clé d’API complète.',

  errorTitle: 'Un problème est survenu',
  errorCode: 'Code d’erreur',
  errorRequestId: 'Identifiant de requête',
  errorSupport: 'Si vous contactez le support, indiquez l’identifiant de requête.',
  errorRetryIn: 'Trop de requêtes. Vous pourrez réessayer dans {seconds} secondes (à {time}).',
  errorRetryLater: 'Trop de requêtes. Patientez un instant avant de réessayer.',
  errorQuotaResets: 'La limite est remise à zéro {time}.',
  errorNetwork: 'Le serveur est injoignable. Vérifiez votre connexion.',
  errorStaleData: 'Les chiffres ci-dessous ne sont peut-être pas à jour.',
  tryAgain: 'Réessayer',

  err_missing_api_key: 'Aucune clé d’API n’a été envoyée.',
  err_invalid_api_key: 'Cette clé d’API n’est pas reconnue.',
  err_revoked_api_key: 'Cette clé d’API a été révoquée.',
  err_expired_api_key: 'Cette clé d’API a expiré.',
  err_account_suspended: 'Ce compte est suspendu.',
  err_forbidden: 'Cette clé n’a pas accès à ces informations.',
  err_not_found: 'Ces informations sont introuvables.',
  err_rate_limited: 'Trop de requêtes.',
  err_b2b_quota_exceeded: 'La limite contractuelle est atteinte.',
  err_store_unavailable: 'Le service est momentanément indisponible.',
  err_internal_error: 'Une erreur interne est survenue sur le serveur.',
  err_validation_error: 'La requête n’était pas valide.',
  err_bad_request: 'La requête n’était pas valide.',
  err_network_error: 'Le serveur est injoignable.',
  err_unexpected_response: 'Le serveur a donné une réponse inattendue.',
};

const DICTS: Record<Lang, Dict> = { en, fr };

/** The UI language from the browser's preferences: French if French comes first, else English. */
export function detectLang(languages?: readonly string[]): Lang {
  const list = languages ?? (typeof navigator !== 'undefined' ? navigator.languages ?? [navigator.language] : []);
  for (const l of list) {
    const base = l.toLowerCase().split('-')[0];
    if (base === 'fr') return 'fr';
    if (base === 'en') return 'en';
  }
  return 'en';
}

/**
 * The locale for numbers and dates: the browser's own locale when it speaks the chosen language
 * (fr-CA, en-GB...), else the bare language.
 */
export function formatLocale(lang: Lang, languages?: readonly string[]): string {
  const list = languages ?? (typeof navigator !== 'undefined' ? navigator.languages ?? [navigator.language] : []);
  const match = list.find((l) => l.toLowerCase().split('-')[0] === lang);
  if (match) {
    try {
      return Intl.getCanonicalLocales(match)[0] ?? lang;
    } catch {
      return lang;
    }
  }
  return lang;
}

export type Vars = Record<string, string | number>;

export interface I18n {
  lang: Lang;
  locale: string;
  t: (key: MessageKey, vars?: Vars) => string;
  /** t() for a key built at run time (error codes...), with a fallback. */
  tMaybe: (key: string, fallback: string, vars?: Vars) => string;
  number: (n: number) => string;
  percent: (ratio: number) => string;
  /** An instant shown in the given IANA time zone, with the zone's name. */
  dateTime: (iso: string, timeZone: string) => string;
  time: (d: Date) => string;
  /** A calendar date (YYYY-MM-DD) as is, with no time-zone shift. */
  day: (ymd: string, style?: 'short' | 'long') => string;
}

function interpolate(s: string, vars?: Vars): string {
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

export function makeI18n(lang: Lang, locale = formatLocale(lang)): I18n {
  const dict = DICTS[lang];
  const nf = new Intl.NumberFormat(locale);
  const pf = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0 });
  const dtfCache = new Map<string, Intl.DateTimeFormat>();
  const dtf = (timeZone: string): Intl.DateTimeFormat => {
    let f = dtfCache.get(timeZone);
    if (!f) {
      try {
        f = new Intl.DateTimeFormat(locale, {
          year: 'numeric',
          month: 'short',
          day: 'numeric',
          hour: '2-digit',
          minute: '2-digit',
          timeZone,
          timeZoneName: 'short',
        });
      } catch {
        // unknown zone name: fall back to UTC rather than failing the whole view
        f = new Intl.DateTimeFormat(locale, {
          year: 'numeric',
          month: 'short',
          day: 'numeric',
          hour: '2-digit',
          minute: '2-digit',
          timeZone: 'UTC',
          timeZoneName: 'short',
        });
      }
      dtfCache.set(timeZone, f);
    }
    return f;
  };
  const tf = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const dayShort = new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', timeZone: 'UTC' });
  const dayLong = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });

  return {
    lang,
    locale,
    t: (key, vars) => interpolate(dict[key], vars),
    tMaybe: (key, fallback, vars) =>
      interpolate(key in dict ? dict[key as MessageKey] : fallback, vars),
    number: (n) => nf.format(n),
    percent: (r) => pf.format(r),
    dateTime: (iso, timeZone) => {
      const d = new Date(iso);
      return Number.isNaN(d.getTime()) ? iso : dtf(timeZone).format(d);
    },
    time: (d) => tf.format(d),
    day: (ymd, style = 'short') => {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd);
      if (!m) return ymd;
      const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
      return (style === 'long' ? dayLong : dayShort).format(d);
    },
  };
}

const I18nContext = createContext<I18n>(makeI18n('en', 'en'));

export function I18nProvider({ lang, children }: { lang: Lang; children: ReactNode }) {
  const value = useMemo(() => makeI18n(lang), [lang]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  return useContext(I18nContext);
}
