/**
 * Where in a YAML file a problem is, said the way the person editing it reads the file: the line
 * and the field (`hours.open`, `services[1].price`), never a parser offset or a zod path. Used by
 * every YAML file Switchboard reads (the business template, scenarios). A leaf: only `yaml`.
 */
import { type Document, type LineCounter, isMap, isScalar, isSeq } from 'yaml';

export type FieldPath = (string | number)[];

/** `hours.open`, `services[1].price`; '' for the file as a whole. */
export function fieldName(path: FieldPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** The line of the deepest node of `path` the file has (a missing key: the line of the map it belongs in). */
export function lineOfPath(doc: Document, lines: LineCounter, path: FieldPath): number {
  let node: unknown = doc.contents;
  let offset = (node as { range?: [number] } | null)?.range?.[0] ?? 0;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      if (!pair) break;
      offset = (pair.key as { range?: [number] }).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      const item = node.items[key] as { range?: [number] } | undefined;
      if (!item?.range) break;
      offset = item.range[0];
      node = item;
    } else break;
  }
  return lines.linePos(offset).line;
}

/**
 * The field a syntax error at `offset` is in: the deepest key (or block list item) that starts
 * before it. The parser reports where it gave up, often the line after the mistake (an unclosed `[`
 * or quote), so the last field begun before that point is the one whose value is broken. A flow
 * collection (`[a, b]`, `{a: 1}`) is one value: its field is named, not the item the parser reached.
 */
export function fieldAt(doc: Document, offset: number): FieldPath {
  const path: FieldPath = [];
  let node: unknown = doc.contents;
  for (;;) {
    if ((isMap(node) || isSeq(node)) && node.flow) break;
    if (isMap(node)) {
      const pair = node.items.findLast((p) => ((p.key as { range?: [number] } | null)?.range?.[0] ?? Infinity) < offset);
      if (!pair || !isScalar(pair.key)) break;
      path.push(String(pair.key.value));
      node = pair.value;
    } else if (isSeq(node)) {
      const i = node.items.findLastIndex((item) => ((item as { range?: [number] } | null)?.range?.[0] ?? Infinity) < offset);
      if (i < 0) break;
      path.push(i);
      node = node.items[i];
    } else break;
  }
  return path;
}

/** Each syntax error as `file:line[:col]: field: message` (no field when it is before the first key). */
export function syntaxProblems(doc: Document, lines: LineCounter, file: string, opts: { column?: boolean } = {}): string[] {
  return doc.errors.map((e) => {
    const { line, col } = lines.linePos(e.pos[0]);
    const field = fieldName(fieldAt(doc, e.pos[0]));
    return `${file}:${line}${opts.column ? `:${col}` : ''}: ${field ? `${field}: ` : ''}${e.message.split('\n')[0]}`;
  });
}
