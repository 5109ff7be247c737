// Validates recorded HTTP exchanges against an OpenAPI 3.1 document:
//   node validate_responses.mjs <openapi.yaml> <exchanges.json>
// exchanges.json: [{"method", "path_template", "status", "content_type",
// "body", optional "path" (the concrete path, checked against the
// template), optional "headers" ({name: value})}]. `body` is the raw
// response text (or, for JSON, the parsed value).
//
// Each exchange must name a documented operation, a documented status for
// it and a documented media type; its body must match that media type's
// schema (JSON Schema 2020-12, by Ajv) and its required response headers
// must be present and match theirs. text/event-stream bodies are split into
// frames and each frame's `data` is checked against the media type's
// `x-sse-data-schema`. Exit 0 when every exchange conforms, 1 otherwise
// (each problem on stderr), 2 on a usage or input error.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

const DOC_ID = 'urn:payengine:openapi';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function usage(message) {
  console.error(`validate_responses: ${message}`);
  console.error('usage: node validate_responses.mjs <openapi.yaml> <exchanges.json>');
  process.exit(2);
}

function escapePointer(token) {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapePointer(token) {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function atPointer(doc, pointer) {
  let node = doc;
  for (const token of pointer.replace(/^#\/?/, '').split('/').filter((t) => t !== '')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = node[unescapePointer(token)];
  }
  return node;
}

/// Follows a local Reference Object (responses, headers); returns the
/// object and the JSON pointer where it really is.
function deref(doc, node, pointer) {
  const seen = new Set();
  while (node && typeof node === 'object' && typeof node.$ref === 'string') {
    if (!node.$ref.startsWith('#/') || seen.has(node.$ref))
      throw new Error(`unsupported or circular reference ${node.$ref} at ${pointer}`);
    seen.add(node.$ref);
    pointer = node.$ref;
    node = atPointer(doc, pointer);
  }
  return { node, pointer };
}

function mediaTypeOf(contentType) {
  return String(contentType ?? '').split(';')[0].trim().toLowerCase();
}

function isJsonMedia(media) {
  return media === 'application/json' || media.endsWith('+json');
}

/// The documented media type for `media`: exact, then `type/*`, then `*/*`.
function findMedia(content, media) {
  const keys = Object.keys(content ?? {});
  const byKey = (k) => keys.find((key) => mediaTypeOf(key) === k);
  return byKey(media) ?? byKey(`${media.split('/')[0]}/*`) ?? byKey('*/*');
}

/// SSE frames as [{event, data}], per the WHATWG event-stream format.
function sseFrames(text) {
  const frames = [];
  for (const block of String(text).replace(/\r\n?/g, '\n').split('\n\n')) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) frames.push({ event, data: data.join('\n') });
  }
  return frames;
}

function templateMatches(template, path) {
  const bare = path.split('?')[0];
  const t = template.split('/');
  const p = bare.split('/');
  return t.length === p.length
    && t.every((seg, i) => (/^\{[^}]+\}$/.test(seg) ? p[i].length > 0 : seg === p[i]));
}

function describeErrors(errors) {
  return errors
    .map((e) => `    at body${e.instancePath || ''}: ${e.message}`
      + (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''))
    .join('\n');
}

function preview(body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > 400 ? `${text.slice(0, 400)}...` : text;
}

class validator {
  constructor(doc) {
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    addFormats(this.ajv);
    // The OpenAPI 3.1 base vocabulary: annotations for Ajv's purposes.
    this.ajv.addVocabulary(['discriminator', 'xml', 'externalDocs', 'example']);
    // The whole document is one schema resource, so that "#/components/..."
    // references resolve inside it; Ajv compiles only the parts asked for,
    // and the document's own top-level fields are no keywords to it.
    this.ajv.addVocabulary(['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths',
      'webhooks', 'components', 'security', 'tags']);
    this.ajv.addSchema(doc, DOC_ID);
    this.compiled = new Map();
  }

  schemaAt(pointer) {
    if (!this.compiled.has(pointer)) {
      const fn = this.ajv.getSchema(`${DOC_ID}${pointer}`);
      if (!fn) throw new Error(`no schema at ${pointer}`);
      this.compiled.set(pointer, fn);
    }
    return this.compiled.get(pointer);
  }

  /// Compiles every schema of every operation's request and responses, so
  /// that a schema Ajv cannot compile fails even if nothing exercised it.
  compileAll() {
    const problems = [];
    for (const [template, item] of Object.entries(this.doc.paths ?? {})) {
      for (const method of METHODS.filter((m) => item[m])) {
        const op = `#/paths/${escapePointer(template)}/${method}`;
        const parts = [];
        if (item[method].requestBody) parts.push(deref(this.doc, item[method].requestBody, `${op}/requestBody`));
        for (const [status, raw] of Object.entries(item[method].responses ?? {}))
          parts.push(deref(this.doc, raw, `${op}/responses/${escapePointer(status)}`));
        for (const { node, pointer } of parts) {
          for (const [media, m] of Object.entries(node.content ?? {})) {
            for (const field of ['schema', 'x-sse-data-schema']) {
              if (!m[field]) continue;
              const at = `${pointer}/content/${escapePointer(media)}/${field}`;
              try {
                this.schemaAt(at);
              } catch (e) {
                problems.push(`${at}: ${e.message}`);
              }
            }
          }
        }
      }
    }
    return problems;
  }

  check(pointer, value) {
    const fn = this.schemaAt(pointer);
    return fn(value) ? [] : fn.errors;
  }

  /// Problems with one exchange (empty when it conforms), and its key.
  exchange(x) {
    const problems = [];
    const method = String(x.method ?? '').toLowerCase();
    const template = x.path_template;
    if (!METHODS.includes(method) || typeof template !== 'string')
      return { problems: ['needs "method" and "path_template"'] };
    if (typeof x.path === 'string' && !templateMatches(template, x.path))
      problems.push(`path ${x.path} does not fit the template ${template}`);
    const pathItem = this.doc.paths?.[template];
    const operation = pathItem?.[method];
    if (!operation)
      return { problems: [...problems, `operation ${method.toUpperCase()} ${template} is not in the document`] };
    const key = `${operation.operationId ?? `${method} ${template}`} ${x.status}`;
    const opPointer = `#/paths/${escapePointer(template)}/${method}`;
    const status = String(x.status);
    const responses = operation.responses ?? {};
    const statusKey = [status, `${status[0]}XX`, 'default'].find((k) => k in responses);
    if (!statusKey)
      return { key, problems: [...problems, `status ${status} is not documented for ${method.toUpperCase()} ${template} (documented: ${Object.keys(responses).join(', ')})`] };
    const { node: response, pointer: responsePointer } = deref(
      this.doc, responses[statusKey], `${opPointer}/responses/${escapePointer(statusKey)}`);
    problems.push(...this.headers(x, response, responsePointer));
    const media = mediaTypeOf(x.content_type);
    const bodyText = typeof x.body === 'string' ? x.body : JSON.stringify(x.body ?? '');
    if (!response.content) {
      if (bodyText.length > 0) problems.push(`status ${status} documents no body, got ${media || 'one'}`);
      return { key, problems };
    }
    const mediaKey = findMedia(response.content, media);
    if (!mediaKey) {
      problems.push(`content type "${x.content_type}" is not documented for status ${status} (documented: ${Object.keys(response.content).join(', ')})`);
      return { key, problems };
    }
    const mediaPointer = `${responsePointer}/content/${escapePointer(mediaKey)}`;
    problems.push(...this.body(x, media, mediaPointer, response.content[mediaKey]));
    return { key, problems };
  }

  headers(x, response, responsePointer) {
    if (!x.headers) return [];
    const got = Object.fromEntries(Object.entries(x.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const problems = [];
    for (const [name, raw] of Object.entries(response.headers ?? {})) {
      const { node: header, pointer } = deref(this.doc, raw, `${responsePointer}/headers/${escapePointer(name)}`);
      const value = got[name.toLowerCase()];
      if (value === undefined) {
        if (header.required) problems.push(`required header ${name} is missing`);
        continue;
      }
      if (!header.schema) continue;
      const type = header.schema.type;
      const typed = (type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
      const errors = this.check(`${pointer}/schema`, typed);
      if (errors.length) problems.push(`header ${name}: ${JSON.stringify(value)} does not match its schema:\n${describeErrors(errors)}`);
    }
    return problems;
  }

  body(x, media, mediaPointer, mediaObject) {
    if (media === 'text/event-stream') {
      if (!mediaObject['x-sse-data-schema']) return [];
      const problems = [];
      const frames = sseFrames(x.body);
      if (frames.length === 0) problems.push('the event stream holds no frame with data');
      frames.forEach((f, i) => {
        let data;
        try {
          data = JSON.parse(f.data);
        } catch (e) {
          problems.push(`frame ${i} (${f.event}): data is not JSON: ${e.message}`);
          return;
        }
        const errors = this.check(`${mediaPointer}/x-sse-data-schema`, data);
        if (errors.length) problems.push(`frame ${i} (${f.event}) does not match its schema:\n${describeErrors(errors)}`);
      });
      return problems;
    }
    if (!mediaObject.schema) return [];
    let value = x.body;
    if (isJsonMedia(media) && typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch (e) {
        return [`body is not JSON: ${e.message}`];
      }
    }
    const errors = this.check(`${mediaPointer}/schema`, value);
    return errors.length ? [`body does not match the schema at ${mediaPointer}/schema:\n${describeErrors(errors)}`] : [];
  }
}

function main() {
  const [specPath, exchangesPath] = process.argv.slice(2);
  if (!specPath || !exchangesPath) usage('two arguments needed');
  let doc;
  let exchanges;
  try {
    doc = parseYaml(readFileSync(specPath, 'utf8'));
    exchanges = JSON.parse(readFileSync(exchangesPath, 'utf8'));
  } catch (e) {
    usage(e.message);
  }
  if (!Array.isArray(exchanges) || exchanges.length === 0) usage('the exchanges file must hold a non-empty array');
  const v = new validator(doc);
  const broken = v.compileAll();
  if (broken.length) {
    for (const b of broken) console.error(`FAIL the document: ${b}`);
    process.exit(1);
  }
  const covered = new Set();
  let failed = 0;
  exchanges.forEach((x, i) => {
    let result;
    try {
      result = v.exchange(x);
    } catch (e) {
      result = { problems: [`cannot validate: ${e.message}`] };
    }
    if (result.problems.length === 0) {
      covered.add(result.key);
      return;
    }
    failed += 1;
    console.error(`FAIL [${i}] ${String(x.method).toUpperCase()} ${x.path ?? x.path_template} -> ${x.status} ${x.content_type ?? ''}`);
    for (const p of result.problems) console.error(`  ${p}`);
    console.error(`  body: ${preview(x.body)}`);
  });
  const operations = new Set([...covered].map((k) => k.split(' ')[0]));
  const documented = Object.entries(doc.paths ?? {}).flatMap(([, item]) =>
    METHODS.filter((m) => item[m]).map((m) => item[m].operationId));
  const missed = documented.filter((id) => !operations.has(id));
  console.log(`validated ${exchanges.length} exchanges: ${exchanges.length - failed} conform, ${failed} do not; `
    + `${operations.size} of ${documented.length} operations and ${covered.size} (operation, status) pairs covered`);
  if (missed.length) console.log(`operations not exercised: ${missed.join(', ')}`);
  console.log(`covered: ${[...covered].sort().join(', ')}`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
