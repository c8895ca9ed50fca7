import { InvalidInputError, compensationKey, forwardKey, keyBelongsTo, validateKey, validateScope, validateStepId } from 'idempotent-sagas/store';

describe('keys', () => {
  test('forward and compensation keys derive from the workflow ID and the step ID', () => {
    expect(forwardKey('order-abc', 'reserve:SKU-1')).toBe('order-abc/reserve:SKU-1');
    expect(compensationKey('order-abc', 'charge')).toBe('order-abc/charge/compensate');
  });

  test('a key belongs to its own workflow only', () => {
    expect(keyBelongsTo('order-abc/charge', 'order-abc')).toBe(true);
    expect(keyBelongsTo('order-abc/charge/compensate', 'order-abc')).toBe(true);
    expect(keyBelongsTo('order-abcd/charge', 'order-abc')).toBe(false);
    expect(keyBelongsTo('order-xyz/charge', 'order-abc')).toBe(false);
    expect(keyBelongsTo('order-abc/', 'order-abc')).toBe(false);
  });

  test.each([
    ['empty', ''],
    ['256 characters', 'a'.repeat(256)],
    ['a newline', 'a\nb'],
    ['NUL', '\u0000'],
    ['DEL', '\u007f'],
    ['non-ASCII', 'caf\u00e9'],
    ['an emoji', '\u{1F600}'],
  ])('a key with %s is refused', (_name, key) => {
    expect(() => validateKey(key)).toThrow(InvalidInputError);
  });

  test('printable ASCII from 1 to 255 characters is accepted, spaces included', () => {
    expect(validateKey('a')).toBe('a');
    expect(validateKey(' ~!')).toBe(' ~!');
    expect(validateKey('x'.repeat(255))).toHaveLength(255);
  });

  test('non-strings are refused', () => {
    expect(() => validateKey(42)).toThrow(/must be a string/);
    expect(() => validateScope(undefined)).toThrow(InvalidInputError);
  });

  test('scopes and step IDs follow their patterns', () => {
    expect(validateScope('step')).toBe('step');
    expect(() => validateScope('Step')).toThrow(InvalidInputError);
    expect(validateStepId('reserve:SKU-1')).toBe('reserve:SKU-1');
    expect(() => validateStepId('has/slash')).toThrow(InvalidInputError);
    expect(() => validateStepId('')).toThrow(InvalidInputError);
    expect(() => forwardKey('wf', 'bad step')).toThrow(InvalidInputError);
  });
});
