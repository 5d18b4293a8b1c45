/** Input that is not a valid TL object: unknown constructor, truncated data, absurd lengths, nesting too deep. */
export class TlParseError extends Error {
  override readonly name = 'TlParseError';
  /** Set when the failure is an unknown constructor id (unsigned). */
  readonly constructorId?: number;
  /** The unknown constructor stood where a method goes (the query of invokeWithLayer, initConnection, …). */
  readonly inMethodPosition: boolean;

  constructor(message: string, constructorId?: number, inMethodPosition = false) {
    super(message);
    if (constructorId !== undefined) this.constructorId = constructorId;
    this.inMethodPosition = inMethodPosition;
  }
}
