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

  alertsTitle: 'Usage alerts',
  alertsOff: 'Alerts are turned off for this contract.',
  alertsNone: 'No threshold reached yet. You are alerted at {thresholds} of each limit.',
  alertsFailed: 'The alerts could not be loaded.',
  alertDay: '{threshold}% of the daily limit reached',
  alertMonth: '{threshold}% of the monthly limit reached',
  alertFigures: '{used} of {limit} calls, {at}',
  alertPrevious: 'previous period',
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
  downloadCsv: 'Download CSV',
  downloadCsvLabel: 'Download the calls from {from} to {to}, per day and key, as a CSV file',
  downloading: 'Downloading…',

  emptyTitle: 'No calls yet',
  emptyBody:
    'This account has not made any API call yet. Make a first call, for example with curl, and it will appear here within a few seconds:',
  emptyKeyNote: 'Replace the masked part with your full API key.',

  errorTitle: 'Something went wrong',
  errorCode: 'Error code',
  errorRequestId: 'Request ID',
  errorSupport: 'If you contact support, quote the request ID.',
  errorRetryIn_one: 'Too many requests. You can try again in {n} second (at {time}).',
  errorRetryIn_other: 'Too many requests. You can try again in {n} seconds (at {time}).',
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
  err_counters_unavailable: 'The service is temporarily unavailable.',
  err_internal_error: 'An internal error occurred on the server.',
  err_validation_error: 'The request was not valid.',
  err_bad_request: 'The request was not valid.',
  err_network_error: 'The server could not be reached.',
  err_unexpected_response: 'The server gave an unexpected answer.',

  // The operator console
  consoleTitle: 'Operator console',
  consoleSubtitle: 'Accounts, plans, keys and the audit trail',
  consoleNav: 'Console',
  navAccounts: 'Accounts',
  navPlans: 'Plans',
  navAudit: 'Audit trail',
  signInAs: 'Sign in as',
  roleCustomer: 'A customer, with an API key',
  roleOperator: 'The operator, with the admin token',
  operatorSignInTitle: 'Operator sign-in',
  operatorSignInIntro:
    'Paste the admin token (STARMETER_ADMIN_TOKEN). It is kept only in this browser tab and forgotten when you sign out or close the tab.',
  adminTokenLabel: 'Admin token',
  adminTokenHint: 'At least 16 characters, as configured on the server.',
  showToken: 'Show token',
  tokenRequired: 'Enter the admin token.',
  operatorSessionEnded: 'The admin token was refused and has been forgotten. Check it and sign in again.',

  cancel: 'Cancel',
  working: 'Working…',
  yes: 'Yes',
  no: 'No',
  edit: 'Edit',
  colActions: 'Actions',
  previousPage: 'Previous page',
  nextPage: 'Next page',
  pageN: 'Page {n}',
  pageOf: 'Page {n} of {total}',

  accountsTitle: 'Accounts',
  accountsListTitle: 'All accounts',
  newAccount: 'New account',
  accountName: 'Name',
  createAccount: 'Create the account',
  accountCreated: 'Account “{name}” created.',
  openAccount: 'Open it',
  searchAccounts: 'Search',
  searchAccountsHint: 'By name or ID.',
  statusAll: 'All',
  accountStatus_active: 'Active',
  accountStatus_suspended: 'Suspended',
  accountsLoading: 'Loading the accounts…',
  accountsFound_one: '{n} account matches.',
  accountsFound_other: '{n} accounts match.',
  accountsOnPage_one: 'Page {page}: {n} account.',
  accountsOnPage_other: 'Page {page}: {n} accounts.',
  accountsNone: 'No accounts yet. Create the first one above.',
  accountsNoneWithStatus: 'No account has this status.',
  accountsNoMatch: 'No account matches this search.',
  noContract: 'No contract',
  usedOfLimit: '{used} / {limit}',
  suspend: 'Suspend',
  reactivate: 'Reactivate',
  suspendNamed: 'Suspend {name}',
  reactivateNamed: 'Reactivate {name}',
  suspendTitle: 'Suspend {name}?',
  suspendBody: 'Every key of this account is refused (403 account_suspended) from its next request, until you reactivate it.',
  reactivateTitle: 'Reactivate {name}?',
  reactivateBody: 'Its active keys work again from their next request.',

  accountN: 'Account {id}',
  accountFacts: 'Account',
  accountId: 'ID',
  createdAt: 'Created',
  usageTitle: 'Usage',
  usageNoContract: 'No usage to show: the account has no contract yet.',
  accountAuditTitle: 'This account’s audit trail',

  contractTitle: 'Contract',
  contractLoading: 'Loading the contract…',
  noContractYet: 'This account has no contract yet. Choose a plan to set one.',
  contractSince: 'Contract started',
  dailyLimit: 'Daily limit',
  monthlyLimit: 'Monthly limit',
  modeShort_block: 'Block',
  modeShort_overage: 'Overage',
  choosePlan: 'Choose a plan',
  timezoneHint: 'An IANA zone such as Europe/Paris: the day and the month are counted in it.',
  followsPlan: 'Empty: the plan’s value ({value}).',
  followsPlanMode: 'As the plan ({value})',
  followsPlanNone: 'Empty: the plan’s value.',
  noCap: 'No cap',
  saveContract: 'Save the contract',
  setContract: 'Set the contract',
  contractSaved: 'The contract is saved; it applies from the next request.',

  keyLabel: 'Label',
  keyLabelHint: 'What the key is for, e.g. production.',
  issueKey: 'Issue a key',
  keysLoading: 'Loading the keys…',
  activeKeys_one: '{n} active key.',
  activeKeys_other: '{n} active keys.',
  colCreated: 'Created',
  colExpires: 'Expires',
  newKeyTitle: 'New key “{label}”',
  newKeyWarning: 'Copy this key now and keep it safe: it is shown this once and cannot be shown again.',
  newKeyLabel: 'The new API key',
  copyKey: 'Copy the key',
  keyCopied: 'The key is copied to the clipboard.',
  keyCopyFailed: 'The key could not be copied: select it and copy it by hand.',
  newKeyDone: 'I have stored it',
  rotatedPrevious: 'The previous key {id} stops working now.',
  rotatedPreviousUntil: 'The previous key {id} keeps working until {time}.',
  rotate: 'Rotate',
  revoke: 'Revoke',
  rotateNamed: 'Rotate key {id}',
  revokeNamed: 'Revoke key {id}',
  rotateTitle: 'Rotate key {id}?',
  rotateBody: 'A new key replaces this one, with the same label. The old key keeps working for the grace period you choose, so the customer can switch.',
  gracePeriod: 'The old key keeps working',
  graceNone: 'No longer: stop it now',
  graceHours_one: 'For {n} hour',
  graceHours_other: 'For {n} hours',
  graceDays_one: 'For {n} day',
  graceDays_other: 'For {n} days',
  revokeTitle: 'Revoke key {id}?',
  revokeBody: 'Calls with “{label}” are refused (401 revoked_api_key) from the next request. This cannot be undone.',

  plansTitle: 'Plans',
  plansIntro: 'A plan’s limits apply to every account on it, unless its contract overrides them.',
  plansListTitle: 'All plans',
  plansLoading: 'Loading the plans…',
  plansCount_one: '{n} plan.',
  plansCount_other: '{n} plans.',
  plansNone: 'No plans yet. Create one to give accounts a contract.',
  newPlan: 'New plan',
  editPlanTitle: 'Edit the plan “{name}”',
  editNamed: 'Edit {name}',
  planCode: 'Code',
  planCodeHint: '1 to 64 of a-z, 0-9, _ and -; it cannot change later.',
  planName: 'Name',
  planMetered: 'Metered',
  planMeteredLabel: 'Metered: calls count against the limits',
  alertThresholds: 'Alert thresholds (%)',
  alertThresholdsHint: 'Percentages of the daily and monthly limits that raise a usage alert, such as 80, 100. Empty: no alerts.',
  rateColumn: 'Rate (per s / burst)',
  rateValue: '{rate} / {burst}',
  capN: 'cap: {n}',
  ratePerSecond: 'Account rate (calls per second)',
  burst: 'Account burst',
  credentialRatePerSecond: 'Per-key rate (calls per second)',
  credentialBurst: 'Per-key burst',
  createPlan: 'Create the plan',
  savePlan: 'Save the plan',
  planCreated: 'Plan “{name}” created.',
  planUpdated: 'Plan “{name}” saved; it applies from the next request.',

  auditTitle: 'Audit trail',
  auditEventsTitle: 'Events, newest first',
  auditFilters: 'Filter the events',
  filterAccount: 'Account ID',
  filterAction: 'Action',
  allActions: 'All actions',
  applyFilters: 'Filter',
  clearFilters: 'Clear',
  auditLoading: 'Loading the audit trail…',
  auditNone: 'No event matches.',
  auditTableLabel: 'Audit events',
  auditCaption: 'Audit events, newest first',
  eventsCount_one: '{n} event.',
  eventsCount_other: '{n} events.',
  newerEvents: 'Newer',
  olderEvents: 'Older',
  colWhen: 'When (UTC)',
  colAction: 'Action',
  colTarget: 'Target',
  colActor: 'By',
  colChanges: 'Changes',
  action_account_create: 'Account created',
  action_account_suspend: 'Account suspended',
  action_account_activate: 'Account reactivated',
  action_contract_put: 'Contract set',
  action_credential_issue: 'Key issued',
  action_credential_rotate: 'Key rotated',
  action_credential_revoke: 'Key revoked',
  action_plan_create: 'Plan created',
  action_plan_update: 'Plan changed',
  actor_admin: 'Admin API',
  actor_cli: 'Command line',
  actor_system: 'System',
  chainTitle: 'Chain verification',
  chainChecking: 'The server is recomputing the chain…',
  chainEmpty: 'Valid: the trail holds no event yet.',
  chainValid_one: 'Valid: {n} event checked, its hash recomputed by the server.',
  chainValid_other: 'Valid: {n} events checked, each one’s hash recomputed by the server.',
  chainBroken: 'Broken at event #{seq}: the chain does not hold from there on.',
  chainReason: 'The server’s reason:',
  chainChecked_one: '{n} event checked.',
  chainChecked_other: '{n} events checked.',
  chainShowEvent: 'Show event #{seq} in the list',
  chainNotListed: 'Event #{seq} is not among the events listed below.',
  chainBrokenHere: 'Broken here',
  chainNote:
    'The server recomputes every event’s hash from the previous event’s hash and the event’s own fields, from the first event on, as starmeter audit verify does.',

  issue_required: 'Required.',
  issue_intRange: 'A whole number from {min} to {max}.',
  issue_oneOf: 'One of: {values}.',
  issue_maxChars: 'At most {n} characters.',
  issue_controlChars: 'No control characters.',
  issue_planCode: '1 to 64 of a-z, 0-9, _ and -.',
  issue_timezone: 'Not a time zone the server knows; use an IANA name such as Europe/Paris.',
  issue_noPlan: 'No plan has the code “{code}”.',
  issue_planExists: 'A plan with the code “{code}” already exists.',
  issue_future: 'Must be in the future.',
  issue_unknownField: 'Not a field the server knows.',
  issue_boolean: 'Yes or no.',
  issue_type: 'Not the expected kind of value.',
  issue_wholeNumber: 'A whole number, 0 or more.',
  issue_positive: 'A whole number, 1 or more.',
  issue_thresholds: 'Up to 5 different whole percentages from 1 to 100, separated by commas.',
  issue_accountId: 'An account ID is a whole number, 1 or more.',
  issue_other: 'This value was refused.',

  errorForbiddenHint: 'You are signed in, but not allowed to do this.',
  errorNotFoundHint: 'It may have been removed, or the address is wrong.',
  errorConflictHint: 'This conflicts with another change. Reload and try again.',
  errorFieldsBeside: 'The fields to correct are marked.',
  err_admin_auth_required: 'The admin token is missing or not recognised.',
  err_method_not_allowed: 'This action is not allowed here.',
  err_idempotency_conflict: 'This request conflicts with an earlier one.',
  err_payload_too_large: 'The request is too large.',
  err_request_header_fields_too_large: 'The request headers are too large.',
};

export type MessageKey = keyof typeof en;
type Dict = Record<MessageKey, string>;
/** A message with plural forms: `<base>_other` always, `<base>_one` (and others) as the language needs. */
export type PluralKey = { [K in MessageKey]: K extends `${infer B}_other` ? B : never }[MessageKey];

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

  alertsTitle: 'Alertes de consommation',
  alertsOff: 'Les alertes sont désactivées pour ce contrat.',
  alertsNone: 'Aucun seuil atteint pour l’instant. Vous êtes alerté à {thresholds} de chaque limite.',
  alertsFailed: 'Les alertes n’ont pas pu être chargées.',
  alertDay: '{threshold} % de la limite quotidienne atteints',
  alertMonth: '{threshold} % de la limite mensuelle atteints',
  alertFigures: '{used} appels sur {limit}, {at}',
  alertPrevious: 'période précédente',
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
  downloadCsv: 'Télécharger en CSV',
  downloadCsvLabel: 'Télécharger les appels du {from} au {to}, par jour et par clé, dans un fichier CSV',
  downloading: 'Téléchargement…',

  emptyTitle: 'Aucun appel pour l’instant',
  emptyBody:
    'Ce compte n’a encore fait aucun appel à l’API. Faites un premier appel, par exemple avec curl, et il apparaîtra ici en quelques secondes :',
  emptyKeyNote: 'Remplacez la partie masquée par votre clé d’API complète.',

  errorTitle: 'Un problème est survenu',
  errorCode: 'Code d’erreur',
  errorRequestId: 'Identifiant de requête',
  errorSupport: 'Si vous contactez le support, indiquez l’identifiant de requête.',
  errorRetryIn_one: 'Trop de requêtes. Vous pourrez réessayer dans {n} seconde (à {time}).',
  errorRetryIn_other: 'Trop de requêtes. Vous pourrez réessayer dans {n} secondes (à {time}).',
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
  err_counters_unavailable: 'Le service est momentanément indisponible.',
  err_internal_error: 'Une erreur interne est survenue sur le serveur.',
  err_validation_error: 'La requête n’était pas valide.',
  err_bad_request: 'La requête n’était pas valide.',
  err_network_error: 'Le serveur est injoignable.',
  err_unexpected_response: 'Le serveur a donné une réponse inattendue.',

  consoleTitle: 'Console d’exploitation',
  consoleSubtitle: 'Comptes, forfaits, clés et journal d’audit',
  consoleNav: 'Console',
  navAccounts: 'Comptes',
  navPlans: 'Forfaits',
  navAudit: 'Journal d’audit',
  signInAs: 'Se connecter en tant que',
  roleCustomer: 'Client, avec une clé d’API',
  roleOperator: 'Exploitant, avec le jeton d’administration',
  operatorSignInTitle: 'Connexion de l’exploitant',
  operatorSignInIntro:
    'Collez le jeton d’administration (STARMETER_ADMIN_TOKEN). Il est gardé uniquement dans cet onglet et oublié à la déconnexion ou à la fermeture de l’onglet.',
  adminTokenLabel: 'Jeton d’administration',
  adminTokenHint: 'Au moins 16 caractères, tel que configuré sur le serveur.',
  showToken: 'Afficher le jeton',
  tokenRequired: 'Saisissez le jeton d’administration.',
  operatorSessionEnded: 'Le jeton d’administration a été refusé et a été oublié. Vérifiez-le et reconnectez-vous.',

  cancel: 'Annuler',
  working: 'En cours…',
  yes: 'Oui',
  no: 'Non',
  edit: 'Modifier',
  colActions: 'Actions',
  previousPage: 'Page précédente',
  nextPage: 'Page suivante',
  pageN: 'Page {n}',
  pageOf: 'Page {n} sur {total}',

  accountsTitle: 'Comptes',
  accountsListTitle: 'Tous les comptes',
  newAccount: 'Nouveau compte',
  accountName: 'Nom',
  createAccount: 'Créer le compte',
  accountCreated: 'Compte « {name} » créé.',
  openAccount: 'L’ouvrir',
  searchAccounts: 'Rechercher',
  searchAccountsHint: 'Par nom ou identifiant.',
  statusAll: 'Tous',
  accountStatus_active: 'Actif',
  accountStatus_suspended: 'Suspendu',
  accountsLoading: 'Chargement des comptes…',
  accountsFound_one: '{n} compte correspond.',
  accountsFound_other: '{n} comptes correspondent.',
  accountsOnPage_one: 'Page {page} : {n} compte.',
  accountsOnPage_other: 'Page {page} : {n} comptes.',
  accountsNone: 'Aucun compte pour l’instant. Créez le premier ci-dessus.',
  accountsNoneWithStatus: 'Aucun compte n’a cet état.',
  accountsNoMatch: 'Aucun compte ne correspond à cette recherche.',
  noContract: 'Aucun contrat',
  usedOfLimit: '{used} / {limit}',
  suspend: 'Suspendre',
  reactivate: 'Réactiver',
  suspendNamed: 'Suspendre {name}',
  reactivateNamed: 'Réactiver {name}',
  suspendTitle: 'Suspendre {name} ?',
  suspendBody:
    'Toutes les clés de ce compte sont refusées (403 account_suspended) dès leur prochaine requête, jusqu’à sa réactivation.',
  reactivateTitle: 'Réactiver {name} ?',
  reactivateBody: 'Ses clés actives fonctionnent de nouveau dès leur prochaine requête.',

  accountN: 'Compte {id}',
  accountFacts: 'Compte',
  accountId: 'Identifiant',
  createdAt: 'Créé le',
  usageTitle: 'Consommation',
  usageNoContract: 'Aucune consommation à afficher : le compte n’a pas encore de contrat.',
  accountAuditTitle: 'Journal d’audit de ce compte',

  contractTitle: 'Contrat',
  contractLoading: 'Chargement du contrat…',
  noContractYet: 'Ce compte n’a pas encore de contrat. Choisissez un forfait pour en établir un.',
  contractSince: 'Début du contrat',
  dailyLimit: 'Limite quotidienne',
  monthlyLimit: 'Limite mensuelle',
  modeShort_block: 'Blocage',
  modeShort_overage: 'Dépassement',
  choosePlan: 'Choisissez un forfait',
  timezoneHint: 'Un fuseau IANA comme Europe/Paris : le jour et le mois y sont comptés.',
  followsPlan: 'Vide : la valeur du forfait ({value}).',
  followsPlanMode: 'Comme le forfait ({value})',
  followsPlanNone: 'Vide : la valeur du forfait.',
  noCap: 'Sans plafond',
  saveContract: 'Enregistrer le contrat',
  setContract: 'Établir le contrat',
  contractSaved: 'Le contrat est enregistré ; il s’applique dès la prochaine requête.',

  keyLabel: 'Libellé',
  keyLabelHint: 'À quoi sert la clé, par exemple production.',
  issueKey: 'Émettre une clé',
  keysLoading: 'Chargement des clés…',
  activeKeys_one: '{n} clé active.',
  activeKeys_other: '{n} clés actives.',
  colCreated: 'Créée le',
  colExpires: 'Expire le',
  newKeyTitle: 'Nouvelle clé « {label} »',
  newKeyWarning:
    'Copiez cette clé maintenant et gardez-la en lieu sûr : elle n’est affichée qu’une fois et ne pourra plus l’être.',
  newKeyLabel: 'La nouvelle clé d’API',
  copyKey: 'Copier la clé',
  keyCopied: 'La clé est copiée dans le presse-papiers.',
  keyCopyFailed: 'La clé n’a pas pu être copiée : sélectionnez-la et copiez-la à la main.',
  newKeyDone: 'Je l’ai enregistrée',
  rotatedPrevious: 'L’ancienne clé {id} cesse de fonctionner maintenant.',
  rotatedPreviousUntil: 'L’ancienne clé {id} fonctionne encore jusqu’au {time}.',
  rotate: 'Renouveler',
  revoke: 'Révoquer',
  rotateNamed: 'Renouveler la clé {id}',
  revokeNamed: 'Révoquer la clé {id}',
  rotateTitle: 'Renouveler la clé {id} ?',
  rotateBody:
    'Une nouvelle clé remplace celle-ci, avec le même libellé. L’ancienne fonctionne encore pendant le délai choisi, le temps que le client change de clé.',
  gracePeriod: 'L’ancienne clé fonctionne encore',
  graceNone: 'Non : l’arrêter maintenant',
  graceHours_one: 'Pendant {n} heure',
  graceHours_other: 'Pendant {n} heures',
  graceDays_one: 'Pendant {n} jour',
  graceDays_other: 'Pendant {n} jours',
  revokeTitle: 'Révoquer la clé {id} ?',
  revokeBody:
    'Les appels avec « {label} » sont refusés (401 revoked_api_key) dès la prochaine requête. C’est définitif.',

  plansTitle: 'Forfaits',
  plansIntro: 'Les limites d’un forfait s’appliquent à tous ses comptes, sauf si leur contrat les remplace.',
  plansListTitle: 'Tous les forfaits',
  plansLoading: 'Chargement des forfaits…',
  plansCount_one: '{n} forfait.',
  plansCount_other: '{n} forfaits.',
  plansNone: 'Aucun forfait pour l’instant. Créez-en un pour établir des contrats.',
  newPlan: 'Nouveau forfait',
  editPlanTitle: 'Modifier le forfait « {name} »',
  editNamed: 'Modifier {name}',
  planCode: 'Code',
  planCodeHint: '1 à 64 caractères parmi a-z, 0-9, _ et - ; il ne pourra plus changer.',
  planName: 'Nom',
  planMetered: 'Décompté',
  planMeteredLabel: 'Décompté : les appels comptent dans les limites',
  alertThresholds: 'Seuils d’alerte (%)',
  alertThresholdsHint: 'Pourcentages des limites quotidienne et mensuelle qui déclenchent une alerte, par exemple 80, 100. Vide : aucune alerte.',
  rateColumn: 'Débit (par s / rafale)',
  rateValue: '{rate} / {burst}',
  capN: 'plafond : {n}',
  ratePerSecond: 'Débit du compte (appels par seconde)',
  burst: 'Rafale du compte',
  credentialRatePerSecond: 'Débit par clé (appels par seconde)',
  credentialBurst: 'Rafale par clé',
  createPlan: 'Créer le forfait',
  savePlan: 'Enregistrer le forfait',
  planCreated: 'Forfait « {name} » créé.',
  planUpdated: 'Forfait « {name} » enregistré ; il s’applique dès la prochaine requête.',

  auditTitle: 'Journal d’audit',
  auditEventsTitle: 'Événements, du plus récent au plus ancien',
  auditFilters: 'Filtrer les événements',
  filterAccount: 'Identifiant du compte',
  filterAction: 'Action',
  allActions: 'Toutes les actions',
  applyFilters: 'Filtrer',
  clearFilters: 'Effacer',
  auditLoading: 'Chargement du journal d’audit…',
  auditNone: 'Aucun événement ne correspond.',
  auditTableLabel: 'Événements d’audit',
  auditCaption: 'Événements d’audit, du plus récent au plus ancien',
  eventsCount_one: '{n} événement.',
  eventsCount_other: '{n} événements.',
  newerEvents: 'Plus récents',
  olderEvents: 'Plus anciens',
  colWhen: 'Quand (UTC)',
  colAction: 'Action',
  colTarget: 'Cible',
  colActor: 'Par',
  colChanges: 'Modifications',
  action_account_create: 'Compte créé',
  action_account_suspend: 'Compte suspendu',
  action_account_activate: 'Compte réactivé',
  action_contract_put: 'Contrat établi',
  action_credential_issue: 'Clé émise',
  action_credential_rotate: 'Clé renouvelée',
  action_credential_revoke: 'Clé révoquée',
  action_plan_create: 'Forfait créé',
  action_plan_update: 'Forfait modifié',
  actor_admin: 'API d’administration',
  actor_cli: 'Ligne de commande',
  actor_system: 'Système',
  chainTitle: 'Vérification de la chaîne',
  chainChecking: 'Le serveur recalcule la chaîne…',
  chainEmpty: 'Valide : le journal ne contient encore aucun événement.',
  chainValid_one: 'Valide : {n} événement vérifié, son empreinte recalculée par le serveur.',
  chainValid_other: 'Valide : {n} événements vérifiés, l’empreinte de chacun recalculée par le serveur.',
  chainBroken: 'Rompue à l’événement n° {seq} : la chaîne ne tient plus à partir de là.',
  chainReason: 'Raison donnée par le serveur (en anglais) :',
  chainChecked_one: '{n} événement vérifié.',
  chainChecked_other: '{n} événements vérifiés.',
  chainShowEvent: 'Afficher l’événement n° {seq} dans la liste',
  chainNotListed: 'L’événement n° {seq} ne figure pas parmi les événements listés ci-dessous.',
  chainBrokenHere: 'Rupture ici',
  chainNote:
    'Le serveur recalcule l’empreinte de chaque événement à partir de celle de l’événement précédent et de ses propres champs, depuis le premier, comme starmeter audit verify.',

  issue_required: 'Obligatoire.',
  issue_intRange: 'Un nombre entier de {min} à {max}.',
  issue_oneOf: 'L’une des valeurs : {values}.',
  issue_maxChars: 'Au plus {n} caractères.',
  issue_controlChars: 'Sans caractères de contrôle.',
  issue_planCode: '1 à 64 caractères parmi a-z, 0-9, _ et -.',
  issue_timezone: 'Fuseau horaire inconnu du serveur ; utilisez un nom IANA comme Europe/Paris.',
  issue_noPlan: 'Aucun forfait n’a le code « {code} ».',
  issue_planExists: 'Un forfait avec le code « {code} » existe déjà.',
  issue_future: 'Doit être dans le futur.',
  issue_unknownField: 'Champ inconnu du serveur.',
  issue_boolean: 'Oui ou non.',
  issue_type: 'Ce n’est pas le type de valeur attendu.',
  issue_wholeNumber: 'Un nombre entier, 0 ou plus.',
  issue_positive: 'Un nombre entier, 1 ou plus.',
  issue_thresholds: 'Jusqu’à 5 pourcentages entiers différents de 1 à 100, séparés par des virgules.',
  issue_accountId: 'Un identifiant de compte est un nombre entier, 1 ou plus.',
  issue_other: 'Cette valeur a été refusée.',

  errorForbiddenHint: 'Vous êtes connecté, mais pas autorisé à faire ceci.',
  errorNotFoundHint: 'Il a peut-être été supprimé, ou l’adresse est erronée.',
  errorConflictHint: 'Ceci entre en conflit avec une autre modification. Rechargez et réessayez.',
  errorFieldsBeside: 'Les champs à corriger sont signalés.',
  err_admin_auth_required: 'Le jeton d’administration est absent ou n’est pas reconnu.',
  err_method_not_allowed: 'Cette action n’est pas permise ici.',
  err_idempotency_conflict: 'Cette requête entre en conflit avec une précédente.',
  err_payload_too_large: 'La requête est trop volumineuse.',
  err_request_header_fields_too_large: 'Les en-têtes de la requête sont trop volumineux.',
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
  /** The form of `<base>_<category>` that Intl.PluralRules picks for n, with {n} formatted. */
  plural: (base: PluralKey, n: number, vars?: Vars) => string;
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
  const pr = new Intl.PluralRules(locale);
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
    plural: (base, n, vars) => {
      const exact = `${base}_${pr.select(n)}`;
      const key = (exact in dict ? exact : `${base}_other`) as MessageKey;
      return interpolate(dict[key], { ...vars, n: nf.format(n) });
    },
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
