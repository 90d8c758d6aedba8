export { HeraldError, isHeraldError } from './herald.error';
