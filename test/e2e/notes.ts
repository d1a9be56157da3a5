/** Labels of the figures the e2e suite prints (grep the CI log for them). */
export const GREETING_NOTE = 'e2e figure: greeting heard';
