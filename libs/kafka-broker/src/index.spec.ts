import { placeholder } from './index';
it('runs', () => expect(placeholder).toBe(1));
