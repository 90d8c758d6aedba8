export const OBSERVABILITY_CONFIG = Symbol('OBSERVABILITY_CONFIG');
export const LOGGER = Symbol('LOGGER');
