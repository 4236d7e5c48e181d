/**
 * A data table with a caption, header cells with scope, numeric columns aligned right, and a
 * keyboard-focusable wrapper. On a phone (app.css) each row becomes a card whose cells are
 * labelled by their column (`data-label`), so no column hides off-screen to the right.
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
      {
        /* Explicit roles: the phone layout restyles rows as cards, and browsers drop a table's
          semantics when its display changes. */
      }
      <table class="cards" role="table">
        <caption id={captionId} class={props.hideCaption ? "visually-hidden" : undefined}>
          {props.caption}
        </caption>
        <thead role="rowgroup">
          <tr role="row">
            {props.columns.map((column) => (
              <th scope="col" role="columnheader" class={column.numeric ? "num" : undefined}>
                {column.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody role="rowgroup">
          {props.rows.map((row) => (
            <tr key={props.rowKey?.(row)} role="row">
              {props.columns.map((column) => (
                <td
                  class={column.numeric ? "num" : undefined}
                  role="cell"
                  data-label={column.label}
                >
                  {column.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
