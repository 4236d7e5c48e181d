/**
 * Offline helpers for the manifest tests: find required tools, render Kustomize directories
 * with `kubectl kustomize`, and check rendered objects against the `kubernetes-models` schemas.
 * Nothing here talks to a cluster.
 * @module
 */
import { fileURLToPath } from "node:url";
import { ConfigMap, Namespace, Service, ServiceAccount } from "kubernetes-models/v1";
import { DaemonSet, Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PriorityClass } from "kubernetes-models/scheduling.k8s.io/v1";
import { GitRepository } from "@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1";
import { Kustomization } from "@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1";
import {
  ImagePolicy,
  ImageRepository,
  ImageUpdateAutomation,
} from "@kubernetes-models/flux-cd/image.toolkit.fluxcd.io/v1";
import {
  PodMonitor,
  PrometheusRule,
  ServiceMonitor,
} from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { Certificate, ClusterIssuer } from "@kubernetes-models/cert-manager/cert-manager.io/v1";
import { Bundle } from "@kubernetes-models/cert-manager/trust.cert-manager.io/v1alpha1";
import { Alert, Provider } from "@kubernetes-models/flux-cd/notification.toolkit.fluxcd.io/v1beta3";
import { findUnknownFields, type ModelClass } from "./schema_walk.ts";

/** Absolute path of the repository root, with a trailing slash. */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** The Kustomize overlays, one per cluster. */
export const OVERLAYS = ["dev", "edge-staging", "edge-production"] as const;

/**
 * Overlays whose broker is the 3-node NATS cluster (k8s/base/nats as their layer `broker`,
 * switched by k8s/components/nats); the others run Mosquitto from the base (docs/DEPLOYMENT.md,
 * "Which broker").
 */
export const NATS_OVERLAYS: readonly string[] = ["edge-staging", "edge-production"];

/** The broker an overlay runs. */
export function brokerOf(overlay: string): "nats" | "mosquitto" {
  return NATS_OVERLAYS.includes(overlay) ? "nats" : "mosquitto";
}

/** The layers of an overlay (its subdirectories), in the order Flux applies them. */
export function overlayLayers(overlay: string): string[] {
  return brokerOf(overlay) === "nats"
    ? ["infrastructure", "broker", "apps"]
    : ["infrastructure", "apps"];
}

/** A rendered Kubernetes object. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** Output of a finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link runCommand}. */
export interface RunOptions {
  /** Text written to the command's standard input. */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

const SEARCH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/**
 * Returns the absolute path of an executable, searching PATH and the sbin directories.
 * @throws Error naming the missing tool and the Debian package that provides it.
 */
export function requireTool(name: string, debianPackage: string): string {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":").filter(Boolean), ...SEARCH_DIRS];
  for (const dir of dirs) {
    const path = `${dir}/${name}`;
    try {
      const info = Deno.statSync(path);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return path;
    } catch {
      // not in this directory
    }
  }
  throw new Error(
    `Missing tool: '${name}' is not installed (searched PATH and ${SEARCH_DIRS.join(", ")}); ` +
      `the manifest tests need it: apt-get install -y ${debianPackage}`,
  );
}

/** Runs a command to completion and returns its exit code and output. */
export async function runCommand(
  path: string,
  args: string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  const child = new Deno.Command(path, {
    args,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

const builds = new Map<string, Promise<KubeObject[]>>();

/**
 * Renders a Kustomize directory (relative to the repository root) with `kubectl kustomize`
 * and returns its objects as JSON. Results are cached per directory.
 * @throws Error with kubectl's message when the build fails.
 */
export function kustomize(dir: string): Promise<KubeObject[]> {
  let build = builds.get(dir);
  if (!build) {
    build = renderKustomization(dir);
    builds.set(dir, build);
  }
  return build;
}

async function renderKustomization(dir: string): Promise<KubeObject[]> {
  const kubectl = requireTool("kubectl", "kubectl (v1.32 with kustomize v5)");
  // No kubeconfig: prove that nothing here reaches for a cluster.
  const env = { KUBECONFIG: "/nonexistent/outpost-manifest-tests" };
  const built = await runCommand(kubectl, ["kustomize", `${REPO_ROOT}${dir}`], { env });
  if (built.code !== 0) {
    throw new Error(`kubectl kustomize ${dir} failed: ${built.stderr.trim()}`);
  }
  if (built.stdout.trim() === "") return [];
  // kubectl converts YAML to JSON offline: a local, no-op annotation removal.
  const converted = await runCommand(
    kubectl,
    ["annotate", "--local", "-f", "-", "-o", "json", "outpost.test/none-"],
    { stdin: built.stdout, env },
  );
  if (converted.code !== 0) {
    throw new Error(`Cannot convert the output of ${dir} to JSON: ${converted.stderr.trim()}`);
  }
  return splitJsonStream(converted.stdout).map((object) => {
    const { annotations } = object.metadata;
    if (annotations && Object.keys(annotations).length === 0) delete object.metadata.annotations;
    return object;
  });
}

/** Splits concatenated JSON documents (`{...}{...}`) into values. */
export function splitJsonStream(text: string): KubeObject[] {
  const values: KubeObject[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === "{") {
      if (depth++ === 0) start = i;
    } else if (char === "}") {
      if (--depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return values;
}

const MODELS: ModelClass[] = [
  Namespace,
  ConfigMap,
  Service,
  ServiceAccount,
  Deployment,
  DaemonSet,
  StatefulSet,
  PodDisruptionBudget,
  NetworkPolicy,
  PriorityClass,
  GitRepository,
  Kustomization,
  ImageRepository,
  ImagePolicy,
  ImageUpdateAutomation,
  ServiceMonitor,
  PodMonitor,
  PrometheusRule,
  Certificate,
  ClusterIssuer,
  Bundle,
  Provider,
  Alert,
];

/**
 * Fields the schemas declare but their compiled validators never read (see schema_walk.ts),
 * per `apiVersion kind`.
 */
const ALSO_DECLARED: Record<string, string[]> = {
  "scheduling.k8s.io/v1 PriorityClass": ["/description"],
};

/** A readable id of an object: `Kind namespace/name`. */
export function objectId(object: KubeObject): string {
  const { namespace, name } = object.metadata;
  return `${object.kind} ${namespace ? `${namespace}/` : ""}${name}`;
}

/**
 * Returns what is wrong with an object against its schema: validation errors from
 * `new Kind(object).validate()` and every field the schema does not declare.
 */
export function schemaProblems(object: KubeObject): string[] {
  const model = MODELS.find((candidate) =>
    candidate.apiVersion === object.apiVersion && candidate.kind === object.kind
  );
  if (!model) {
    return [
      `${objectId(object)}: no schema model for ${object.apiVersion} ${object.kind} ` +
      `(add it to MODELS in tests/manifests/kube.ts)`,
    ];
  }
  const problems: string[] = [];
  try {
    new model(object as never).validate();
  } catch (error) {
    problems.push(`${objectId(object)}: ${(error as Error).message}`);
  }
  const alsoDeclared = ALSO_DECLARED[`${object.apiVersion} ${object.kind}`];
  for (const path of findUnknownFields(model, object, { alsoDeclared })) {
    problems.push(`${objectId(object)}: unknown field ${path}`);
  }
  return problems;
}

/** A container of a pod template (the subset the tests read). */
export interface Container {
  name: string;
  image?: string;
  ports?: { name?: string; containerPort: number; hostPort?: number }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: {
      fieldRef?: { fieldPath: string };
      secretKeyRef?: { name: string; key: string; optional?: boolean };
      configMapKeyRef?: { name: string; key: string; optional?: boolean };
    };
  }[];
  envFrom?: {
    configMapRef?: { name: string; optional?: boolean };
    secretRef?: { name: string; optional?: boolean };
  }[];
  securityContext?: SecurityContext;
  resources?: {
    requests?: Record<string, string>;
    limits?: Record<string, string>;
  };
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  startupProbe?: unknown;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

/** Security settings of a pod or a container (the subset the tests read). */
export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}

/** A volume of a pod template (the subset the tests read). */
export interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: Record<string, unknown>;
  configMap?: { name: string; optional?: boolean };
  secret?: { secretName: string; optional?: boolean; items?: { key: string; path: string }[] };
  /** Several ConfigMaps and Secrets in one directory. */
  projected?: {
    sources: {
      configMap?: { name: string; optional?: boolean; items?: { key: string; path: string }[] };
      secret?: { name: string; optional?: boolean; items?: { key: string; path: string }[] };
    }[];
    defaultMode?: number;
  };
}

/** A pod template spec (the subset the tests read). */
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: SecurityContext;
  hostNetwork?: boolean;
  dnsPolicy?: string;
  priorityClassName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: { key?: string; operator?: string; effect?: string }[];
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: {
        nodeSelectorTerms: {
          matchExpressions?: { key: string; operator: string; values?: string[] }[];
        }[];
      };
    };
  };
}

const WORKLOAD_KINDS = new Set(["Deployment", "DaemonSet", "StatefulSet"]);

/** The workloads (Deployments, DaemonSets, StatefulSets) among some objects. */
export function workloads(objects: KubeObject[]): KubeObject[] {
  return objects.filter((object) => WORKLOAD_KINDS.has(object.kind));
}

/** The pod template spec of a workload. */
export function podSpec(workload: KubeObject): PodSpec {
  const spec = workload.spec as { template: { spec: PodSpec } };
  return spec.template.spec;
}

/** The one object of a kind and name; fails the test when there is not exactly one. */
export function findObject(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.filter((object) => object.kind === kind && object.metadata.name === name);
  if (found.length !== 1) {
    throw new Error(`Expected exactly one ${kind} named ${name}, found ${found.length}`);
  }
  return found[0];
}

/** Finds a free TCP port on the loopback interface. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Replaces `search` by `replacement` in `text`, failing when it does not occur exactly once. */
export function replaceOnce(text: string, search: string, replacement: string): string {
  const count = text.split(search).length - 1;
  if (count !== 1) {
    throw new Error(`Expected '${search}' exactly once in the config, found it ${count} times`);
  }
  return text.replace(search, () => replacement);
}

/** A container image reference split into its parts. */
export interface ImageReference {
  /** `[registry/]path`, without tag or digest. */
  repository: string;
  tag?: string;
  /** `algorithm:hex` after `@`. */
  digest?: string;
}

/** Splits `[registry[:port]/]path[:tag][@digest]`; a registry port is not taken for a tag. */
export function parseImageReference(image: string): ImageReference {
  const at = image.indexOf("@");
  const name = at < 0 ? image : image.slice(0, at);
  const digest = at < 0 ? undefined : image.slice(at + 1);
  const lastSlash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  if (colon > lastSlash) {
    return { repository: name.slice(0, colon), tag: name.slice(colon + 1), digest };
  }
  return { repository: name, digest };
}

/**
 * Why an image reference does not pin a version, or undefined when it does: it needs a valid
 * digest, or an explicit tag other than `latest` (no tag means `latest`).
 */
export function unpinnedImage(image: string): string | undefined {
  const { tag, digest } = parseImageReference(image);
  if (digest !== undefined) {
    return /^sha256:[0-9a-f]{64}$/.test(digest) ? undefined : `malformed digest '${digest}'`;
  }
  if (tag === undefined || tag === "") return "no tag (means latest)";
  if (tag.toLowerCase() === "latest") return "the latest tag";
  return undefined;
}
