/**
 * Kubernetes label selectors, the one way a set of devices is named (device list, rollouts,
 * jobs): `site=berlin,role!=gateway,tier in (a,b),!decommissioned`.
 *
 * Requirements are separated by commas and all must hold:
 * - `key` / `!key` — the label is present / absent;
 * - `key=value`, `key==value` — present with that value;
 * - `key!=value` — absent, or present with another value (as in Kubernetes);
 * - `key in (v1,v2)` — present with one of the values;
 * - `key notin (v1,v2)` — absent, or present with none of the values.
 *
 * Keys and values follow the label syntax (`@outpost/protocol` labels). An empty selector
 * matches every device. The store compiles the parsed form to SQL (`store/device_query.ts`).
 * @module
 */
import { labelKeyProblem, labelValueProblem } from "@outpost/protocol";

/** One requirement of a selector. */
export type Requirement =
  | { op: "exists"; key: string }
  | { op: "notexists"; key: string }
  | { op: "eq"; key: string; value: string }
  | { op: "neq"; key: string; value: string }
  | { op: "in"; key: string; values: string[] }
  | { op: "notin"; key: string; values: string[] };

/** A parsed selector: every requirement must hold (none: every device). */
export interface Selector {
  /** The selector as given (trimmed), for display and storage. */
  text: string;
  requirements: Requirement[];
}

/** The longest selector accepted. */
export const MAX_SELECTOR_LENGTH = 2000;
/** The most requirements in one selector (each becomes one SQL subquery). */
export const MAX_REQUIREMENTS = 20;
/** The most values in one `in`/`notin` set. */
export const MAX_SET_VALUES = 100;

/** A selector that cannot be parsed; `position` is the 0-based offset of the problem. */
export class SelectorError extends Error {
  readonly position: number;

  constructor(message: string, position: number) {
    super(message);
    this.name = "SelectorError";
    this.position = position;
  }
}

/** The outcome of {@link parseSelector}. */
export type SelectorParse = { ok: true; selector: Selector } | { ok: false; error: SelectorError };

type Token =
  | { kind: "word"; text: string; at: number }
  | { kind: "op"; text: "=" | "==" | "!=" | "!" | "," | "(" | ")"; at: number };

const WORD = /[A-Za-z0-9_.\-/]/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t") {
      i++;
    } else if (c === "!" && text[i + 1] === "=") {
      tokens.push({ kind: "op", text: "!=", at: i });
      i += 2;
    } else if (c === "=" && text[i + 1] === "=") {
      tokens.push({ kind: "op", text: "==", at: i });
      i += 2;
    } else if (c === "=" || c === "!" || c === "," || c === "(" || c === ")") {
      tokens.push({ kind: "op", text: c, at: i });
      i++;
    } else if (WORD.test(c)) {
      const start = i;
      while (i < text.length && WORD.test(text[i])) i++;
      tokens.push({ kind: "word", text: text.slice(start, i), at: start });
    } else {
      throw new SelectorError(
        `unexpected character '${c}' at position ${i}${
          c === ">" || c === "<" ? " (numeric comparisons are not supported)" : ""
        }`,
        i,
      );
    }
  }
  return tokens;
}

class Parser {
  #tokens: Token[];
  #i = 0;
  #end: number;

  constructor(tokens: Token[], end: number) {
    this.#tokens = tokens;
    this.#end = end;
  }

  get done(): boolean {
    return this.#i >= this.#tokens.length;
  }

  peek(): Token | undefined {
    return this.#tokens[this.#i];
  }

  next(): Token | undefined {
    return this.#tokens[this.#i++];
  }

  /** Where the next token starts (the text's end when there is none). */
  at(): number {
    return this.peek()?.at ?? this.#end;
  }

  fail(expected: string): never {
    const token = this.peek();
    const found = token ? `'${token.text}'` : "the end";
    throw new SelectorError(
      `expected ${expected} at position ${this.at()}, found ${found}`,
      this.at(),
    );
  }

  key(): string {
    const token = this.peek();
    if (token?.kind !== "word") this.fail("a label key");
    this.next();
    const problem = labelKeyProblem(token.text);
    if (problem) {
      throw new SelectorError(
        `label key '${token.text}' at position ${token.at} is invalid: ${problem}`,
        token.at,
      );
    }
    return token.text;
  }

  /** A value; an empty one when the next token ends the requirement. */
  value(): string {
    const token = this.peek();
    if (token?.kind !== "word") {
      if (!token || token.text === "," || token.text === ")") return "";
      this.fail("a label value");
    }
    this.next();
    const problem = labelValueProblem(token.text);
    if (problem) {
      throw new SelectorError(
        `label value '${token.text}' at position ${token.at} is invalid: ${problem}`,
        token.at,
      );
    }
    return token.text;
  }

  set(): string[] {
    const open = this.next();
    if (open?.text !== "(") {
      this.#i--;
      this.fail("'('");
    }
    const values: string[] = [];
    for (;;) {
      values.push(this.value());
      const token = this.next();
      if (token?.text === ")") break;
      if (token?.text !== ",") {
        this.#i--;
        this.fail("',' or ')'");
      }
    }
    if (values.length > MAX_SET_VALUES) {
      throw new SelectorError(`a set holds at most ${MAX_SET_VALUES} values`, open.at);
    }
    return [...new Set(values)];
  }

  requirement(): Requirement {
    const first = this.peek();
    if (first?.kind === "op" && first.text === "!") {
      this.next();
      return { op: "notexists", key: this.key() };
    }
    const key = this.key();
    const op = this.peek();
    if (!op || op.text === ",") return { op: "exists", key };
    if (op.kind === "op" && (op.text === "=" || op.text === "==")) {
      this.next();
      return { op: "eq", key, value: this.value() };
    }
    if (op.kind === "op" && op.text === "!=") {
      this.next();
      return { op: "neq", key, value: this.value() };
    }
    if (op.kind === "word" && (op.text === "in" || op.text === "notin")) {
      this.next();
      return { op: op.text, key, values: this.set() };
    }
    this.fail("'=', '==', '!=', 'in', 'notin', ',' or the end");
  }
}

/** Parses a selector; never throws. */
export function parseSelector(input: string): SelectorParse {
  const text = input.trim();
  try {
    if (text.length > MAX_SELECTOR_LENGTH) {
      throw new SelectorError(
        `a selector is at most ${MAX_SELECTOR_LENGTH} characters; got ${text.length}`,
        MAX_SELECTOR_LENGTH,
      );
    }
    const requirements: Requirement[] = [];
    if (text !== "") {
      const parser = new Parser(tokenize(text), text.length);
      for (;;) {
        requirements.push(parser.requirement());
        if (parser.done) break;
        if (parser.peek()?.text !== ",") parser.fail("',' or the end");
        parser.next();
        if (parser.done) parser.fail("a requirement after ','");
      }
    }
    if (requirements.length > MAX_REQUIREMENTS) {
      throw new SelectorError(`a selector holds at most ${MAX_REQUIREMENTS} requirements`, 0);
    }
    return { ok: true, selector: { text, requirements } };
  } catch (error) {
    if (error instanceof SelectorError) return { ok: false, error };
    throw error;
  }
}

/** True when `labels` satisfy `selector` (the same rules the SQL applies; used in tests). */
export function matchesSelector(selector: Selector, labels: Record<string, string>): boolean {
  return selector.requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const value = has ? labels[r.key] : undefined;
    switch (r.op) {
      case "exists":
        return has;
      case "notexists":
        return !has;
      case "eq":
        return has && value === r.value;
      case "neq":
        return !has || value !== r.value;
      case "in":
        return has && r.values.includes(value!);
      case "notin":
        return !has || !r.values.includes(value!);
    }
  });
}

/** The selector in canonical form (`site=a,tier in (x,y)`): for display and links. */
export function formatSelector(selector: Selector): string {
  return selector.requirements.map((r) => {
    switch (r.op) {
      case "exists":
        return r.key;
      case "notexists":
        return `!${r.key}`;
      case "eq":
        return `${r.key}=${r.value}`;
      case "neq":
        return `${r.key}!=${r.value}`;
      case "in":
      case "notin":
        return `${r.key} ${r.op} (${r.values.join(",")})`;
    }
  }).join(",");
}
