/**
 * A readable one-line message for a failed schema validation, e.g. `body.phone is required` or
 * `body.code must be a string`. Never echoes the offending value (it may be a password).
 */
import type { FastifySchemaValidationError } from 'fastify';

export function validationMessage(errors: FastifySchemaValidationError[], context: string | undefined): string {
  const first = errors[0];
  if (!first) return 'The request is invalid';
  const base = context ?? 'request';
  const where = `${base}${first.instancePath.replace(/\//g, '.')}`;
  const params = (first.params ?? {}) as Record<string, unknown>;
  switch (first.keyword) {
    case 'required':
      return `${where}.${String(params.missingProperty)} is required`;
    case 'type':
      return `${where} must be ${article(String(params.type))}`;
    case 'minLength':
      return Number(params.limit) === 1
        ? `${where} must not be empty`
        : `${where} must be at least ${String(params.limit)} characters long`;
    case 'maxLength':
      return `${where} must be at most ${String(params.limit)} characters long`;
    case 'pattern':
      return `${where} has an invalid format`;
    case 'additionalProperties':
      return `${where} has an unknown field "${String(params.additionalProperty)}"`;
    default:
      return `${where} ${first.message ?? 'is invalid'}`;
  }
}

function article(type: string): string {
  const name = type.replace(/,/g, ' or ');
  return /^[aeiou]/.test(name) ? `an ${name}` : `a ${name}`;
}
