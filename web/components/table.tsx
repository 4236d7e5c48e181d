/**
 * A data table with a caption, header cells with scope, numeric columns aligned right, and a
 * scrollable, keyboard-focusable wrapper so wide tables do not break a phone layout.
 * @module
 */
import type { ComponentChildren, JSX } from "preact";

/** One column of a {@link DataTable}. */
export interface Column<T> {
  label: string;
  /** Right-aligned, tabular figures. */
  numeric?: boolean;
  cell: (row: T) => ComponentChildren;
}

/** Props of {@link DataTable}. */
export interface DataTableProps<T> {
  /** Unique on the page; names the scroll region. */
  id: string;
  caption: string;
  columns: Column<T>[];
  rows: T[];
  /** Shown instead of the table when there are no rows. */
  empty: string;
  rowKey?: (row: T) => string;
  /** Hide the caption visually (it still names the table). */
  hideCaption?: boolean;
}

/** The table, or the `empty` text when there are no rows. */
export function DataTable<T>(props: DataTableProps<T>): JSX.Element {
  if (props.rows.length === 0) {
    return <p class="empty" id={props.id}>{props.empty}</p>;
  }
  const captionId = `${props.id}-caption`;
  return (
    <div class="table-wrap" id={props.id} role="region" aria-labelledby={captionId} tabIndex={0}>
      <table>
        <caption id={captionId} class={props.hideCaption ? "visually-hidden" : undefined}>
          {props.caption}
        </caption>
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th scope="col" class={column.numeric ? "num" : undefined}>{column.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr key={props.rowKey?.(row)}>
              {props.columns.map((column) => (
                <td class={column.numeric ? "num" : undefined}>{column.cell(row)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
