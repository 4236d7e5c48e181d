/**
 * Kubernetes NetworkPolicy semantics, offline: does a set of rendered policies allow a TCP or
 * UDP connection from one pod (or an address outside the cluster) to another on a port?
 *
 * - A pod is isolated for ingress (egress) when a policy of its namespace selects it and lists
 *   Ingress (Egress) in `policyTypes`; a non-isolated pod allows everything that way.
 * - An isolated pod allows a connection when any selecting policy has a rule whose peers and
 *   ports both match; peers are `podSelector` (policy's namespace), `namespaceSelector`, both
 *   (AND), or `ipBlock` (addresses outside the cluster only, here); no `from`/`to` is any peer,
 *   no `ports` is any port.
 * - A connection needs the source's egress and the destination's ingress.
 * Named ports and `endPort` are not used by our policies and are rejected.
 * @module
 */
import type { KubeObject } from "./kube.ts";

/** A label selector (matchExpressions are not used by our policies). */
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: unknown[];
}

interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

interface PolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: PolicyPort[];
}

interface PolicySpec {
  podSelector: LabelSelector;
  policyTypes?: ("Ingress" | "Egress")[];
  ingress?: Rule[];
  egress?: Rule[];
}

/** A pod in the cluster, or an address outside it. */
export type Endpoint =
  | { kind: "pod"; namespace: string; labels: Record<string, string>; name: string }
  | { kind: "external"; ip: string; name: string };

/** One connection attempt. */
export interface Flow {
  from: Endpoint;
  to: Endpoint;
  port: number;
  protocol?: "TCP" | "UDP";
}

function matches(selector: LabelSelector, labels: Record<string, string>): boolean {
  if (selector.matchExpressions?.length) {
    throw new Error("matchExpressions are not supported by this evaluator");
  }
  return Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
}

function ipv4(ip: string): number {
  return ip.split(".").reduce((sum, part) => sum * 256 + Number(part), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(ip) / size) === Math.floor(ipv4(base) / size);
}

function namespaceLabels(namespace: string): Record<string, string> {
  // The label every namespace carries; our selectors use only this one.
  return { "kubernetes.io/metadata.name": namespace };
}

function peerMatches(peer: Peer, policyNamespace: string, endpoint: Endpoint): boolean {
  if (peer.ipBlock) {
    if (endpoint.kind !== "external") return false;
    return inCidr(endpoint.ip, peer.ipBlock.cidr) &&
      !(peer.ipBlock.except ?? []).some((cidr) => inCidr(endpoint.ip, cidr));
  }
  if (endpoint.kind !== "pod") return false;
  const namespaceOk = peer.namespaceSelector
    ? matches(peer.namespaceSelector, namespaceLabels(endpoint.namespace))
    : endpoint.namespace === policyNamespace;
  const podOk = peer.podSelector ? matches(peer.podSelector, endpoint.labels) : true;
  return namespaceOk && podOk;
}

function portMatches(ports: PolicyPort[] | undefined, port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((candidate) => {
    if (candidate.endPort !== undefined || typeof candidate.port === "string") {
      throw new Error("named ports and endPort are not supported by this evaluator");
    }
    return (candidate.protocol ?? "TCP") === protocol &&
      (candidate.port === undefined || candidate.port === port);
  });
}

/** `policyTypes`, defaulted as the API server does: Ingress, plus Egress when it has rules. */
function policyTypes(spec: PolicySpec): ("Ingress" | "Egress")[] {
  return spec.policyTypes ?? (spec.egress ? ["Ingress", "Egress"] : ["Ingress"]);
}

function policies(objects: KubeObject[]) {
  return objects.filter((object) => object.kind === "NetworkPolicy").map((object) => ({
    namespace: object.metadata.namespace ?? "",
    name: object.metadata.name,
    spec: object.spec as PolicySpec,
  }));
}

function allowedOneWay(
  objects: KubeObject[],
  direction: "Ingress" | "Egress",
  subject: Endpoint,
  peer: Endpoint,
  port: number,
  protocol: string,
): boolean {
  if (subject.kind !== "pod") return true; // outside the cluster: not ours to police
  const selecting = policies(objects).filter((policy) =>
    policy.namespace === subject.namespace && matches(policy.spec.podSelector, subject.labels) &&
    policyTypes(policy.spec).includes(direction)
  );
  if (selecting.length === 0) return true;
  return selecting.some((policy) => {
    const rules = (direction === "Ingress" ? policy.spec.ingress : policy.spec.egress) ?? [];
    return rules.some((rule) => {
      const peers = direction === "Ingress" ? rule.from : rule.to;
      const peerOk = !peers || peers.length === 0 ||
        peers.some((candidate) => peerMatches(candidate, policy.namespace, peer));
      return peerOk && portMatches(rule.ports, port, protocol);
    });
  });
}

/** True when the policies let `flow` through (egress at its source, ingress at its target). */
export function flowAllowed(objects: KubeObject[], flow: Flow): boolean {
  const protocol = flow.protocol ?? "TCP";
  return allowedOneWay(objects, "Egress", flow.from, flow.to, flow.port, protocol) &&
    allowedOneWay(objects, "Ingress", flow.to, flow.from, flow.port, protocol);
}

/** A readable name of a flow. */
export function describeFlow(flow: Flow): string {
  return `${flow.from.name} -> ${flow.to.name}:${flow.port}/${flow.protocol ?? "TCP"}`;
}
