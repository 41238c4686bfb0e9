/**
 * Kubernetes-only parts of an SGStream document, validated as the CRD and Kubernetes define them
 * and then ignored by pgcdc: object metadata, `spec.metadata` and `spec.pods`.
 */
import { z } from 'zod';
import { kubernetesNameSchema, stringMapSchema } from './common-schemas.js';
import { describeValue } from './config-issues.js';

const strings = z.array(z.string());

/** Resource quantities are strings in the CRD; Kubernetes also accepts plain numbers (`cpu: 1`). */
const quantityMapSchema = z.record(z.string(), z.union([z.string(), z.number()]).meta({ expected: 'a quantity such as 500m, 2 or 1Gi' }));

const ownerReferenceSchema = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});

const managedFieldsEntrySchema = z.strictObject({
  apiVersion: z.string().optional(),
  fieldsType: z.string().optional(),
  fieldsV1: z.record(z.string(), z.unknown()).optional(),
  manager: z.string().optional(),
  operation: z.string().optional(),
  subresource: z.string().optional(),
  time: z.string().optional(),
});

/** Kubernetes ObjectMeta (as `kubectl get -o yaml` prints it); pgcdc reads only `name`. */
export const objectMetaSchema = z.strictObject({
  name: kubernetesNameSchema,
  namespace: z.string().optional(),
  labels: stringMapSchema.optional(),
  annotations: stringMapSchema.optional(),
  generateName: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  deletionGracePeriodSeconds: z.int().optional(),
  finalizers: strings.optional(),
  ownerReferences: z.array(ownerReferenceSchema).optional(),
  managedFields: z.array(managedFieldsEntrySchema).optional(),
  selfLink: z.string().optional(),
});

const resourceMetadataSchema = z.strictObject({
  allResources: stringMapSchema.optional(),
  pods: stringMapSchema.optional(),
  serviceAccount: stringMapSchema.optional(),
});

/** `spec.metadata`: labels and annotations of the resources StackGres creates. */
export const streamResourceMetadataSchema = z.strictObject({
  annotations: resourceMetadataSchema.optional(),
  labels: resourceMetadataSchema.optional(),
});

const selectorRequirementSchema = z.strictObject({ key: z.string(), operator: z.string(), values: strings.optional() });
const labelSelectorSchema = z.strictObject({ matchExpressions: z.array(selectorRequirementSchema).optional(), matchLabels: stringMapSchema.optional() });
const nodeSelectorTermSchema = z.strictObject({
  matchExpressions: z.array(selectorRequirementSchema).optional(),
  matchFields: z.array(selectorRequirementSchema).optional(),
});

const podAffinityTermSchema = z.strictObject({
  labelSelector: labelSelectorSchema.optional(),
  matchLabelKeys: strings.optional(),
  mismatchLabelKeys: strings.optional(),
  namespaceSelector: labelSelectorSchema.optional(),
  namespaces: strings.optional(),
  topologyKey: z.string(),
});

const podAffinitySchema = z.strictObject({
  preferredDuringSchedulingIgnoredDuringExecution: z.array(z.strictObject({ podAffinityTerm: podAffinityTermSchema, weight: z.int() })).optional(),
  requiredDuringSchedulingIgnoredDuringExecution: z.array(podAffinityTermSchema).optional(),
});

const schedulingSchema = z.strictObject({
  nodeSelector: stringMapSchema.optional(),
  tolerations: z
    .array(
      z.strictObject({
        effect: z.string().optional(),
        key: z.string().optional(),
        operator: z.string().optional(),
        tolerationSeconds: z.int().optional(),
        value: z.string().optional(),
      }),
    )
    .optional(),
  nodeAffinity: z
    .strictObject({
      preferredDuringSchedulingIgnoredDuringExecution: z.array(z.strictObject({ preference: nodeSelectorTermSchema, weight: z.int() })).optional(),
      requiredDuringSchedulingIgnoredDuringExecution: z.strictObject({ nodeSelectorTerms: z.array(nodeSelectorTermSchema) }).optional(),
    })
    .optional(),
  priorityClassName: z.string().optional(),
  podAffinity: podAffinitySchema.optional(),
  podAntiAffinity: podAffinitySchema.optional(),
  topologySpreadConstraints: z
    .array(
      z.strictObject({
        labelSelector: labelSelectorSchema.optional(),
        matchLabelKeys: strings.optional(),
        maxSkew: z.int(),
        minDomains: z.int().optional(),
        nodeAffinityPolicy: z.string().optional(),
        nodeTaintsPolicy: z.string().optional(),
        topologyKey: z.string(),
        whenUnsatisfiable: z.string(),
      }),
    )
    .optional(),
});

const VOLUME_SIZE_PATTERN = /^[0-9]+(\.[0-9]+)?(Mi|Gi|Ti)$/;

/** `spec.pods`: the stream Pod of StackGres. Required by the CRD, optional for pgcdc. */
export const podsSchema = z.strictObject({
  persistentVolume: z.strictObject({
    size: z
      .string()
      .regex(VOLUME_SIZE_PATTERN, { error: (issue) => `is ${describeValue(issue.input)}; expected a size in Mi, Gi or Ti, e.g. 1Gi` }),
    storageClass: z.string().optional(),
  }),
  resources: z
    .strictObject({
      claims: z.array(z.strictObject({ name: z.string(), request: z.string().optional() })).optional(),
      limits: quantityMapSchema.optional(),
      requests: quantityMapSchema.optional(),
    })
    .optional(),
  scheduling: schedulingSchema.optional(),
});
