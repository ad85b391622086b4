const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a UUID in its canonical text form: every shop id and event id is one. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}
