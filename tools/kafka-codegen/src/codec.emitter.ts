import type { FieldSpec, MessageSpec } from './message-spec.loader';
import {
  covers,
  intersect,
  isEmpty,
  parseVersionRange,
  versionCondition,
  type VersionRange,
} from './version-range';

const SCALAR_TYPES = new Set([
  'bool',
  'int8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'float64',
  'uuid',
  'string',
  'bytes',
  'records',
]);

interface StructModel {
  name: string;
  fields: FieldSpec[];
  /** Versions in which the struct can occur at all; decides which fields are always present. */
  range: VersionRange;
}

interface EmitContext {
  message: MessageSpec;
  valid: VersionRange;
  flexible: VersionRange;
  structs: Map<string, StructModel>;
  /** Structs that need a `defaultX()` factory (single struct fields and top-level responses). */
  needsDefault: Set<string>;
}

/** The generated module for one message: a file name and its TypeScript source. */
export interface GeneratedFile {
  fileName: string;
  source: string;
}

export function fileNameFor(messageName: string): string {
  return `${kebab(messageName)}.generated.ts`;
}

export function kebab(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1-$2')
    .toLowerCase();
}

export function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function isArrayType(type: string): boolean {
  return type.startsWith('[]');
}

function elementType(type: string): string {
  return type.slice(2);
}

function isStructType(type: string): boolean {
  const base = isArrayType(type) ? elementType(type) : type;
  return !SCALAR_TYPES.has(base);
}

function collectStructs(message: MessageSpec, valid: VersionRange): Map<string, StructModel> {
  const structs = new Map<string, StructModel>();
  const common = new Map((message.commonStructs ?? []).map((s) => [s.name, s]));
  const visit = (fields: FieldSpec[], parentRange: VersionRange): void => {
    for (const field of fields) {
      if (!isStructType(field.type)) continue;
      const name = isArrayType(field.type) ? elementType(field.type) : field.type;
      const fieldRange = intersect(parseVersionRange(field.versions), parentRange);
      const definition = field.fields ?? common.get(name)?.fields;
      if (!definition) throw new Error(`${message.name}: unknown struct type ${name}`);
      const known = structs.get(name);
      if (known) {
        known.range = {
          min: Math.min(known.range.min, fieldRange.min),
          max: Math.max(known.range.max, fieldRange.max),
        };
        continue;
      }
      structs.set(name, { name, fields: definition, range: fieldRange });
      visit(definition, fieldRange);
    }
  };
  visit(message.fields, valid);
  return structs;
}

function tsScalarType(type: string): string {
  switch (type) {
    case 'bool':
      return 'boolean';
    case 'int64':
      return 'bigint';
    case 'uuid':
    case 'bytes':
      return 'Buffer';
    case 'records':
      return 'Buffer | null';
    case 'string':
      return 'string';
    default:
      return 'number';
  }
}

function tsType(field: FieldSpec, ctx: EmitContext, within: VersionRange): string {
  const nullable = !isEmpty(intersect(parseVersionRange(field.nullableVersions), within));
  let base: string;
  if (isArrayType(field.type)) {
    const el = elementType(field.type);
    base = `${SCALAR_TYPES.has(el) ? tsScalarType(el) : el}[]`;
  } else if (SCALAR_TYPES.has(field.type)) base = tsScalarType(field.type);
  else base = field.type;
  void ctx;
  return nullable && field.type !== 'records' ? `${base} | null` : base;
}

function defaultExpr(field: FieldSpec, ctx: EmitContext): string {
  const def = field.default === undefined ? undefined : String(field.default);
  if (def === 'null') return 'null';
  const type = field.type;
  if (isArrayType(type)) return '[]';
  switch (type) {
    case 'bool':
      return def === 'true' ? 'true' : 'false';
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'float64':
      return String(Number(def ?? 0));
    case 'int64':
      return `${BigInt(def ?? 0)}n`;
    case 'string':
      return JSON.stringify(def ?? '');
    case 'uuid':
      return 'Buffer.alloc(16)';
    case 'bytes':
      return 'Buffer.alloc(0)';
    case 'records':
      return 'null';
    default:
      ctx.needsDefault.add(type);
      return `default${type}()`;
  }
}

function compactExpr(field: FieldSpec, ctx: EmitContext, within: VersionRange): string {
  if (isEmpty(intersect(ctx.flexible, within))) return 'false';
  if (field.flexibleVersions === undefined) return 'flexible';
  const cond = versionCondition(parseVersionRange(field.flexibleVersions), within);
  return cond === '' ? 'true' : cond === 'false' ? 'false' : `(${cond})`;
}

/** '' = always nullable here, 'false' = never, otherwise a condition on version. */
function nullableCond(field: FieldSpec, within: VersionRange): string {
  return versionCondition(parseVersionRange(field.nullableVersions), within);
}

const SCALAR_READERS: Record<string, string> = {
  bool: 'r.readBool()',
  int8: 'r.readInt8()',
  int16: 'r.readInt16()',
  uint16: 'r.readUInt16()',
  int32: 'r.readInt32()',
  uint32: 'r.readUInt32()',
  int64: 'r.readInt64()',
  float64: 'r.readFloat64()',
  uuid: 'r.readUuid()',
};

const SCALAR_WRITERS: Record<string, string> = {
  bool: 'writeBool',
  int8: 'writeInt8',
  int16: 'writeInt16',
  uint16: 'writeUInt16',
  int32: 'writeInt32',
  uint32: 'writeUInt32',
  int64: 'writeInt64',
  float64: 'writeFloat64',
  uuid: 'writeUuid',
};

function choose(cond: string, whenTrue: string, whenFalse: string): string {
  if (cond === '') return whenTrue;
  if (cond === 'false') return whenFalse;
  return `(${cond} ? ${whenTrue} : ${whenFalse})`;
}

function readExpr(field: FieldSpec, ctx: EmitContext, within: VersionRange): string {
  const c = compactExpr(field, ctx, within);
  const n = nullableCond(field, within);
  const type = field.type;
  if (isArrayType(type)) {
    const el = elementType(type);
    const item = SCALAR_TYPES.has(el) ? scalarRead(el, c) : `read${el}(r, version)`;
    return choose(
      n,
      `r.readNullableArray(${c}, () => ${item})`,
      `r.readArray(${c}, () => ${item})`,
    );
  }
  if (SCALAR_TYPES.has(type)) {
    if (type === 'string') return choose(n, `r.readNullableString(${c})`, `r.readString(${c})`);
    if (type === 'bytes') return choose(n, `r.readNullableBytes(${c})`, `r.readBytes(${c})`);
    return scalarRead(type, c);
  }
  return choose(
    n,
    `r.readNullableStruct(() => read${type}(r, version))`,
    `read${type}(r, version)`,
  );
}

function scalarRead(type: string, c: string): string {
  if (type === 'string') return `r.readString(${c})`;
  if (type === 'bytes') return `r.readBytes(${c})`;
  if (type === 'records') return `r.readRecords(${c})`;
  const reader = SCALAR_READERS[type];
  if (!reader) throw new Error(`no reader for ${type}`);
  return reader;
}

function scalarWrite(type: string, w: string, value: string, c: string): string {
  if (type === 'string') return `${w}.writeString(${value}, ${c})`;
  if (type === 'bytes') return `${w}.writeBytes(${value}, ${c})`;
  if (type === 'records') return `${w}.writeRecords(${value}, ${c})`;
  const writer = SCALAR_WRITERS[type];
  if (!writer) throw new Error(`no writer for ${type}`);
  return `${w}.${writer}(${value})`;
}

function writeStatement(
  field: FieldSpec,
  ctx: EmitContext,
  within: VersionRange,
  w: string,
  value: string,
): string {
  const c = compactExpr(field, ctx, within);
  const n = nullableCond(field, within);
  const type = field.type;
  if (isArrayType(type)) {
    const el = elementType(type);
    const item = SCALAR_TYPES.has(el) ? scalarWrite(el, w, 'e', c) : `write${el}(${w}, version, e)`;
    const fn = `(e) => ${item}`;
    if (n === '') return `${w}.writeNullableArray(${value}, ${c}, ${fn});`;
    if (n === 'false') return `${w}.writeArray(${value}, ${c}, ${fn});`;
    return `if (${n}) ${w}.writeNullableArray(${value}, ${c}, ${fn});\n    else ${w}.writeArray(${value}, ${c}, ${fn});`;
  }
  if (type === 'string' || type === 'bytes') {
    const method = type === 'string' ? 'String' : 'Bytes';
    if (n === '') return `${w}.writeNullable${method}(${value}, ${c});`;
    if (n === 'false') return `${w}.write${method}(${value}, ${c});`;
    return `if (${n}) ${w}.writeNullable${method}(${value}, ${c});\n    else ${w}.write${method}(${value}, ${c});`;
  }
  if (SCALAR_TYPES.has(type)) return `${scalarWrite(type, w, value, c)};`;
  if (n === '') return `${w}.writeNullableStruct(${value}, (s) => write${type}(${w}, version, s));`;
  if (n === 'false') return `write${type}(${w}, version, ${value});`;
  return `if (${n}) ${w}.writeNullableStruct(${value}, (s) => write${type}(${w}, version, s));\n    else write${type}(${w}, version, ${value} ?? default${type}());`;
}

function isTagged(field: FieldSpec): boolean {
  return field.taggedVersions !== undefined && field.tag !== undefined;
}

function emitStruct(struct: StructModel, ctx: EmitContext, exported: boolean): string {
  const { name, fields, range } = struct;
  const flexibleCond = versionCondition(ctx.flexible, range);
  const hasFlexible = !isEmpty(intersect(ctx.flexible, range));
  const out: string[] = [];

  // Interface.
  out.push(`export interface ${name} {`);
  for (const field of fields) {
    const fieldRange = intersect(parseVersionRange(field.versions), range);
    if (isEmpty(fieldRange)) continue;
    const optional = isTagged(field) || !covers(parseVersionRange(field.versions), range);
    if (field.about) out.push(`  /** ${field.about.replace(/\*\//g, '* /')} */`);
    out.push(`  ${camel(field.name)}${optional ? '?' : ''}: ${tsType(field, ctx, fieldRange)};`);
  }
  out.push('}', '');

  const present = fields.filter((f) => !isEmpty(intersect(parseVersionRange(f.versions), range)));
  const regular = present.filter((f) => !isTagged(f));
  const tagged = present.filter(isTagged);
  const flexDecl = hasFlexible
    ? `  const flexible = ${flexibleCond === '' ? 'true' : flexibleCond};`
    : undefined;

  // Reader.
  const readBody: string[] = [];
  if (flexDecl) readBody.push(flexDecl);
  readBody.push(`  const o: ${name} = {`);
  for (const field of regular) {
    const fieldRange = intersect(parseVersionRange(field.versions), range);
    const cond = versionCondition(parseVersionRange(field.versions), range);
    const expr = readExpr(field, ctx, fieldRange);
    readBody.push(
      `    ${camel(field.name)}: ${cond === '' ? expr : `${cond} ? ${expr} : ${defaultExpr(field, ctx)}`},`,
    );
  }
  readBody.push('  };');
  if (hasFlexible) {
    if (tagged.length === 0) readBody.push('  if (flexible) r.skipTaggedFields();');
    else {
      readBody.push(
        '  if (flexible) {',
        '    r.readTaggedFields((tag) => {',
        '      switch (tag) {',
      );
      for (const field of tagged) {
        const tagRange = intersect(parseVersionRange(field.taggedVersions), range);
        const cond = versionCondition(parseVersionRange(field.taggedVersions), range);
        readBody.push(`        case ${field.tag}:`);
        const assign = `o.${camel(field.name)} = ${readExpr(field, ctx, tagRange)};`;
        if (cond === '') readBody.push(`          ${assign}`, '          return true;');
        else
          readBody.push(
            `          if (!(${cond})) return false;`,
            `          ${assign}`,
            '          return true;',
          );
      }
      readBody.push('        default:', '          return false;', '      }', '    });', '  }');
    }
  }
  readBody.push('  return o;');
  out.push(
    fn(
      exported,
      `read${name}`,
      [
        ['r', 'ProtocolReader'],
        ['version', 'number'],
      ],
      name,
      readBody,
    ),
  );

  // Writer.
  const writeBody: string[] = [];
  if (flexDecl) writeBody.push(flexDecl);
  for (const field of regular) {
    const fieldRange = intersect(parseVersionRange(field.versions), range);
    const cond = versionCondition(parseVersionRange(field.versions), range);
    const optional = !covers(parseVersionRange(field.versions), range);
    const prop = `v.${camel(field.name)}`;
    // A nullable field keeps an explicit null; only a missing one takes the default.
    const value = !optional
      ? prop
      : isEmpty(parseVersionRange(field.nullableVersions))
        ? `(${prop} ?? ${defaultExpr(field, ctx)})`
        : `(${prop} !== undefined ? ${prop} : ${defaultExpr(field, ctx)})`;
    const stmt = writeStatement(field, ctx, fieldRange, 'w', value);
    if (cond === '') writeBody.push(`  ${stmt}`);
    else if (stmt.includes('\n')) writeBody.push(`  if (${cond}) {`, `    ${stmt}`, '  }');
    else writeBody.push(`  if (${cond}) ${stmt}`);
  }
  if (hasFlexible) {
    if (tagged.length === 0) writeBody.push('  if (flexible) w.writeUVarInt(0);');
    else {
      writeBody.push('  if (flexible) {', '    const tagged: TaggedFieldWriter[] = [];');
      for (const field of tagged) {
        const tagRange = intersect(parseVersionRange(field.taggedVersions), range);
        const cond = versionCondition(parseVersionRange(field.taggedVersions), range);
        const local = `t${field.tag}`;
        writeBody.push(`    const ${local} = v.${camel(field.name)};`);
        const stmt = writeStatement(field, ctx, tagRange, 'tw', local).replace(/\n\s*/g, ' ');
        const guard = [cond, `${local} !== undefined`].filter((s) => s !== '').join(' && ');
        writeBody.push(
          `    if (${guard}) tagged.push({ tag: ${field.tag}, write: (tw) => { ${stmt} } });`,
        );
      }
      writeBody.push('    w.writeTaggedFields(tagged);', '  }');
    }
  }
  out.push(
    fn(
      exported,
      `write${name}`,
      [
        ['w', 'ProtocolWriter'],
        ['version', 'number'],
        ['v', name],
      ],
      'void',
      writeBody,
    ),
  );
  return out.join('\n');
}

/** Prefixes parameters the body never mentions with `_`, so `noUnusedParameters` stays quiet. */
function fn(
  exported: boolean,
  name: string,
  params: [string, string][],
  returns: string,
  body: string[],
): string {
  const text = body.join('\n');
  const list = params
    .map(([p, t]) => (new RegExp(`\\b${p}\\b`).test(text) ? `${p}: ${t}` : `_${p}: ${t}`))
    .join(', ');
  return `${exported ? 'export ' : ''}function ${name}(${list}): ${returns} {\n${text}\n}\n`;
}

function emitDefault(struct: StructModel, ctx: EmitContext): string {
  const lines = [`export function default${struct.name}(): ${struct.name} {`, '  return {'];
  for (const field of struct.fields) {
    if (isTagged(field)) continue;
    if (isEmpty(intersect(parseVersionRange(field.versions), struct.range))) continue;
    lines.push(`    ${camel(field.name)}: ${defaultExpr(field, ctx)},`);
  }
  lines.push('  };', '}', '');
  return lines.join('\n');
}

export function emitMessage(message: MessageSpec): GeneratedFile {
  const valid = parseVersionRange(message.validVersions);
  const ctx: EmitContext = {
    message,
    valid,
    flexible: parseVersionRange(message.flexibleVersions),
    structs: collectStructs(message, valid),
    needsDefault: new Set(),
  };
  const top: StructModel = { name: message.name, fields: message.fields, range: valid };
  if (message.type === 'response') ctx.needsDefault.add(message.name);

  const bodies: string[] = [emitStruct(top, ctx, true)];
  for (const struct of ctx.structs.values()) bodies.push(emitStruct(struct, ctx, false));
  // Defaults can pull in further defaults (a struct whose struct field is absent in some version).
  const emittedDefaults = new Set<string>();
  const defaults: string[] = [];
  for (
    let pending = [...ctx.needsDefault];
    pending.length > 0;
    pending = [...ctx.needsDefault].filter((n) => !emittedDefaults.has(n))
  ) {
    for (const name of pending) {
      emittedDefaults.add(name);
      const struct = name === message.name ? top : ctx.structs.get(name);
      if (!struct) throw new Error(`${message.name}: no struct ${name} for a default`);
      defaults.push(emitDefault(struct, ctx));
    }
  }
  const source = [
    `// Generated by tools/kafka-codegen from Apache Kafka's ${message.sourceFile}. Do not edit.`,
    `import type { ProtocolReader } from '../protocol-reader';`,
    `import type { ProtocolWriter${bodies.some((b) => b.includes('TaggedFieldWriter')) ? ', TaggedFieldWriter' : ''} } from '../protocol-writer';`,
    '',
    `/** Versions ${message.validVersions}, flexible ${message.flexibleVersions}. */`,
    `export const ${camel(message.name)}Versions = { min: ${valid.min}, max: ${valid.max}, flexibleMin: ${isEmpty(ctx.flexible) ? -1 : ctx.flexible.min} } as const;`,
    '',
    ...bodies,
    ...defaults,
  ].join('\n');
  return { fileName: fileNameFor(message.name), source };
}

/** Each API's request and response, by api key. */
function apiPairs(messages: MessageSpec[]): { request: MessageSpec; response: MessageSpec }[] {
  const requests = messages.filter((m) => m.type === 'request' && m.apiKey !== undefined);
  const responses = new Map(
    messages.filter((m) => m.type === 'response').map((m) => [m.apiKey, m]),
  );
  return [...requests]
    .sort((a, b) => (a.apiKey ?? 0) - (b.apiKey ?? 0))
    .map((request) => {
      const response = responses.get(request.apiKey);
      if (!response) throw new Error(`no response for ${request.name}`);
      return { request, response };
    });
}

/** The registry of every API: versions, header flexibility and an error-response writer. */
export function emitRegistry(messages: MessageSpec[]): GeneratedFile {
  const imports: string[] = [];
  const entries: string[] = [];
  const keys: string[] = [];
  for (const { request, response } of apiPairs(messages)) {
    const api = request.name.replace(/Request$/, '');
    const reqRange = parseVersionRange(request.validVersions);
    const reqFlex = parseVersionRange(request.flexibleVersions);
    const resFlex = parseVersionRange(response.flexibleVersions);
    const hasErrorCode = response.fields.some(
      (f) => f.name === 'ErrorCode' && f.type === 'int16' && !isTagged(f),
    );
    const module = `./${fileNameFor(response.name).replace(/\.ts$/, '')}`;
    keys.push(`  ${api}: ${request.apiKey},`);
    if (hasErrorCode) {
      imports.push(`import { default${response.name}, write${response.name} } from '${module}';`);
    }
    entries.push(
      [
        `  [${request.apiKey}, {`,
        `    apiKey: ${request.apiKey},`,
        `    name: '${api}',`,
        `    minVersion: ${reqRange.min},`,
        `    maxVersion: ${reqRange.max},`,
        `    requestFlexibleMin: ${isEmpty(reqFlex) ? -1 : reqFlex.min},`,
        `    responseFlexibleMin: ${isEmpty(resFlex) ? -1 : resFlex.min},`,
        hasErrorCode
          ? `    writeErrorResponse: (w, version, errorCode) => write${response.name}(w, version, { ...default${response.name}(), errorCode }),`
          : '    writeErrorResponse: undefined,',
        '  }],',
      ].join('\n'),
    );
  }
  const source = [
    `// Generated by tools/kafka-codegen from Apache Kafka's message definitions. Do not edit.`,
    `import type { ProtocolWriter } from '../protocol-writer';`,
    ...imports,
    '',
    'export interface ApiMessageDefinition {',
    '  readonly apiKey: number;',
    '  readonly name: string;',
    '  /** Versions Apache Kafka defines for this API (not what the broker serves). */',
    '  readonly minVersion: number;',
    '  readonly maxVersion: number;',
    '  /** First flexible version of the request (header v2) / response (header v1); -1 when none. */',
    '  readonly requestFlexibleMin: number;',
    '  readonly responseFlexibleMin: number;',
    '  /** Writes a response body whose top-level ErrorCode is `errorCode`; undefined when the response has none. */',
    '  readonly writeErrorResponse: ((w: ProtocolWriter, version: number, errorCode: number) => void) | undefined;',
    '}',
    '',
    'export const ApiKey = {',
    ...keys,
    '} as const;',
    '',
    'export const API_MESSAGES: ReadonlyMap<number, ApiMessageDefinition> = new Map<number, ApiMessageDefinition>([',
    ...entries,
    ']);',
    '',
  ].join('\n');
  return { fileName: 'api-messages.generated.ts', source };
}

/** The fields of a struct-typed field: written inline, or one of the message's common structs. */
function structFieldsOf(message: MessageSpec, field: FieldSpec): FieldSpec[] {
  const name = isArrayType(field.type) ? elementType(field.type) : field.type;
  const fields = field.fields ?? message.commonStructs?.find((s) => s.name === name)?.fields;
  if (!fields) throw new Error(`${message.name}: unknown struct type ${name}`);
  return fields;
}

/** The value a response field takes when the request says nothing of it. */
function plainDefault(field: FieldSpec): string {
  if (isArrayType(field.type)) return '[]';
  if (field.default !== undefined && String(field.default) === 'null') return 'null';
  const ctx = { needsDefault: new Set<string>() } as unknown as EmitContext;
  return defaultExpr(field, ctx);
}

/**
 * A TypeScript expression for a response struct that answers the request struct `src` (an
 * expression, undefined when there is none) item by item: every `ErrorCode` is `errorCode` and
 * every `ErrorMessage` is `message`; an array of structs answers the request's array of the
 * same name (or, failing that, its only other array of structs: `Creations` → `Results`),
 * element by element; a scalar the request has under the same name and type is copied (topic
 * names, partition indexes, resource names); anything else takes its default.
 */
function mirrorExpr(
  respFields: FieldSpec[],
  response: MessageSpec,
  reqFields: FieldSpec[] | undefined,
  request: MessageSpec,
  src: string | undefined,
  depth: number,
): string {
  const structArray = (f: FieldSpec) => !isTagged(f) && isArrayType(f.type) && isStructType(f.type);
  const respArrays = respFields.filter(structArray);
  const reqArrays = src === undefined ? [] : (reqFields ?? []).filter(structArray);
  const pairs = new Map<FieldSpec, FieldSpec>();
  for (const a of respArrays) {
    const same = reqArrays.find((b) => b.name === a.name);
    if (same) pairs.set(a, same);
  }
  const paired = new Set(pairs.values());
  const leftResp = respArrays.filter((a) => !pairs.has(a));
  const leftReq = reqArrays.filter((b) => !paired.has(b));
  if (leftResp.length === 1 && leftReq.length === 1) pairs.set(leftResp[0]!, leftReq[0]!);
  const sameScalar = (field: FieldSpec) =>
    src === undefined
      ? undefined
      : (reqFields ?? []).find(
          (f) => f.name === field.name && f.type === field.type && !isTagged(f),
        );
  const parts: string[] = [];
  for (const field of respFields) {
    if (isTagged(field)) continue;
    let value: string;
    if (field.name === 'ErrorCode' && field.type === 'int16') value = 'errorCode';
    else if (field.name === 'ErrorMessage' && field.type === 'string') value = 'message';
    else if (structArray(field)) {
      const match = pairs.get(field);
      const element = `e${depth}`;
      if (match && src !== undefined) {
        const inner = mirrorExpr(
          structFieldsOf(response, field),
          response,
          structFieldsOf(request, match),
          request,
          element,
          depth + 1,
        );
        const parameter = new RegExp(`\\b${element}\\b`).test(inner) ? element : `_${element}`;
        value = `(${src}.${camel(match.name)} ?? []).map((${parameter}: any) => (${inner}))`;
      } else value = '[]';
    } else if (!isArrayType(field.type) && isStructType(field.type)) {
      const match = sameScalar(field);
      value = mirrorExpr(
        structFieldsOf(response, field),
        response,
        match ? structFieldsOf(request, match) : undefined,
        request,
        match && src !== undefined ? `(${src}.${camel(match.name)} ?? {})` : undefined,
        depth + 1,
      );
    } else {
      const match = sameScalar(field);
      value = match
        ? `(${src}.${camel(match.name)} ?? ${plainDefault(field)})`
        : plainDefault(field);
    }
    parts.push(`${camel(field.name)}: ${value}`);
  }
  return `{ ${parts.join(', ')} }`;
}

/**
 * Error answers for the APIs whose response has no top-level ErrorCode: each reads the request
 * and answers every item of it (topic, partition, resource, ACL...) with the error.
 */
export function emitItemErrorResponses(messages: MessageSpec[]): GeneratedFile {
  const imports: string[] = [];
  const entries: string[] = [];
  for (const { request, response } of apiPairs(messages)) {
    const hasErrorCode = response.fields.some(
      (f) => f.name === 'ErrorCode' && f.type === 'int16' && !isTagged(f),
    );
    if (hasErrorCode) continue;
    imports.push(
      `import { read${request.name} } from './${fileNameFor(request.name).replace(/\.ts$/, '')}';`,
      `import { write${response.name} } from './${fileNameFor(response.name).replace(/\.ts$/, '')}';`,
    );
    const answer = mirrorExpr(response.fields, response, request.fields, request, 'q', 0);
    const uses = (name: string) => new RegExp(`\\b${name}\\b`).test(answer);
    entries.push(
      [
        `  [${request.apiKey}, (r, w, version, ${uses('errorCode') ? '' : '_'}errorCode, ${uses('message') ? '' : '_'}message) => {`,
        // Read even when nothing of it is answered: a request that does not decode closes the connection.
        uses('q')
          ? `    const q: any = read${request.name}(r, version);`
          : `    read${request.name}(r, version);`,
        `    write${response.name}(w, version, ${answer});`,
        '  }],',
      ].join('\n'),
    );
  }
  const source = [
    `// Generated by tools/kafka-codegen from Apache Kafka's message definitions. Do not edit.`,
    `import type { ProtocolReader } from '../protocol-reader';`,
    `import type { ProtocolWriter } from '../protocol-writer';`,
    ...imports,
    '',
    '/** Reads the request (after its header) and writes an answer giving every item of it `errorCode`. */',
    'export type ItemErrorResponder = (r: ProtocolReader, w: ProtocolWriter, version: number, errorCode: number, message: string) => void;',
    '',
    '/** By api key, for the APIs whose response has no top-level ErrorCode. */',
    'export const ITEM_ERROR_RESPONSES: ReadonlyMap<number, ItemErrorResponder> = new Map<number, ItemErrorResponder>([',
    ...entries,
    ']);',
    '',
  ].join('\n');
  return { fileName: 'item-error-responses.generated.ts', source };
}
