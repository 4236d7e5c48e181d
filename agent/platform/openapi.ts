/**
 * Builds the OpenAPI 3.1 document from the same zod schemas the routes validate with, so the
 * document cannot drift from the code.
 * @module
 */
import { z } from "zod";

/** A response of a documented route. */
export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
}

/** One documented route. Paths use Hono's `:param` syntax; they are converted. */
export interface RouteDoc {
  method: "get" | "post" | "put" | "delete" | "patch";
  path: string;
  summary: string;
  tags?: string[];
  query?: z.ZodObject;
  body?: z.ZodType;
  responses: Record<number, ResponseDoc>;
  /** True when the route needs the bearer token. */
  secured?: boolean;
  /** True when the route takes an `Idempotency-Key` header (see `idempotency.ts`). */
  idempotent?: boolean;
}

/** The `Idempotency-Key` header parameter of an idempotent route. */
const IDEMPOTENCY_PARAMETER = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "1-255 printable ASCII characters chosen by the client. A retry with the same key within 24 hours returns the first successful answer (with Idempotent-Replayed: true) and stores nothing twice; the same key with another body is 422 idempotency_key_reused, and while the first request still runs, 409 idempotency_in_progress.",
  schema: { type: "string", minLength: 1, maxLength: 255 },
};

/** The error envelope as a schema, for documentation. */
export const ErrorEnvelopeSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({
      field: z.string().describe("path of the bad field, '.'-joined; (body) for the whole input"),
      message: z.string(),
      rule: z.string().optional().describe("the rule broken, e.g. required, type, max_items"),
      limit: z.unknown().optional().describe("the rule's limit, when it has one"),
    })).optional(),
  }),
});

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
  });
  return rest;
}

/** Options of {@link buildOpenApiDocument}. */
export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/** Renders the OpenAPI 3.1 document of `routes`. */
export function buildOpenApiDocument(
  info: OpenApiInfo,
  routes: RouteDoc[],
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, "{$1}");
    const parameters: unknown[] = [];
    for (const match of route.path.matchAll(/:(\w+)/g)) {
      parameters.push({ name: match[1], in: "path", required: true, schema: { type: "string" } });
    }
    if (route.query) {
      const shape = route.query.shape as Record<string, z.ZodType>;
      for (const [name, schema] of Object.entries(shape)) {
        parameters.push({
          name,
          in: "query",
          required: !schema.safeParse(undefined).success,
          schema: jsonSchema(schema),
          ...(schema.description ? { description: schema.description } : {}),
        });
      }
    }
    if (route.idempotent) parameters.push(IDEMPOTENCY_PARAMETER);
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.schema
          ? {
            content: {
              [response.contentType ?? "application/json"]: { schema: jsonSchema(response.schema) },
            },
          }
          : {}),
      };
    }
    responses.default = {
      description: "Error in the JSON envelope",
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
    paths[path] ??= {};
    paths[path][route.method] = {
      summary: route.summary,
      ...(route.tags ? { tags: route.tags } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? {
          requestBody: {
            required: true,
            content: { "application/json": { schema: jsonSchema(route.body) } },
          },
        }
        : {}),
      responses,
      ...(route.secured ? { security: [{ bearer: [] }] } : {}),
    };
  }
  return {
    openapi: "3.1.0",
    info,
    paths,
    components: {
      schemas: { Error: jsonSchema(ErrorEnvelopeSchema) },
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
  };
}
