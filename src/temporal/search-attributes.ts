// Typed search attribute keys shared by workflows (upsert), the client (start options, list queries) and the dev
// server setup (registration). Only @temporalio/common is imported, so this module is safe inside the workflow
// sandbox; registering the keys on a server lives in register-search-attributes.ts, which needs a connection.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The cluster an operation acts on; lets `list` filter one cluster's history. */
export const ClusterName = defineSearchAttributeKey('ClusterName', SearchAttributeType.KEYWORD);
/** The operation kind (create, upgrade, teardown, ...). */
export const Operation = defineSearchAttributeKey('Operation', SearchAttributeType.KEYWORD);
/** The Kubernetes version the operation targets. */
export const KubernetesVersion = defineSearchAttributeKey('KubernetesVersion', SearchAttributeType.KEYWORD);

/** Every custom search attribute kubeadm2ha needs on its server. */
export const searchAttributeKeys = [ClusterName, Operation, KubernetesVersion] as const;

const cliTypeNames: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** `Name=Type` values for `temporal server start-dev --search-attribute`. */
export function searchAttributeCliArgs(): string[] {
  return searchAttributeKeys.flatMap((k) => ['--search-attribute', `${k.name}=${cliTypeNames[k.type]}`]);
}
