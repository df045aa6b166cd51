/**
 * RFC 4180 CSV, pure: a cell with a comma, a quote or a line break is quoted, quotes doubled.
 * runs.csv is written and read back with these two functions only.
 */
import { SweepError } from "./errors";

export class CsvError extends SweepError {
  override name = "CsvError";
}

function cell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A header and rows, one line each, "\n" after every line. */
export function toCsv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [header, ...rows].map((row) => `${row.map(cell).join(",")}\n`).join("");
}

/** Rows of cells, the header first; every row must have the header's width. */
export function parseCsv(text: string, source: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const endField = () => {
    row.push(field);
    field = "";
  };
  const endRow = () => {
    endField();
    rows.push(row);
    row = [];
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else field += ch;
      i += 1;
      continue;
    }
    if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") endField();
    else if (ch === "\n") endRow();
    else if (ch !== "\r") field += ch;
    i += 1;
  }
  if (quoted) throw new CsvError(`${source}: a quoted cell is not closed`);
  if (field !== "" || row.length > 0) endRow();
  const width = rows[0]?.length ?? 0;
  rows.forEach((r, line) => {
    if (r.length !== width)
      throw new CsvError(`${source}: line ${line + 1} has ${r.length} cells; the header has ${width}`);
  });
  return rows;
}
