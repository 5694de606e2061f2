{{/* The release's name for everything it creates, at most 63 characters. */}}
{{- define "kiln.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kiln.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "kiln.labels" -}}
{{ include "kiln.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kiln.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kiln.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* An image reference from images.registry, the named repository and images.tag (default: appVersion), plus an optional tag suffix. */}}
{{- define "kiln.image" -}}
{{- $images := .root.Values.images -}}
{{- $tag := default .root.Chart.AppVersion $images.tag -}}
{{- printf "%s/%s:%s%s" (trimSuffix "/" $images.registry) (index $images .name) $tag (default "" .suffix) -}}
{{- end -}}

{{/* The rules the operator needs on workloads, in every namespace it runs jobs in. */}}
{{- define "kiln.workloadRules" -}}
- apiGroups: [kiln.dev]
  resources: [multimodalpretrainjobs]
  # No patch or update: the operator never writes a job's spec or metadata (a GitOps sync would
  # see it as drift); it writes only the status subresource, and deletes a job past its TTL.
  verbs: [get, list, watch, delete]
- apiGroups: [kiln.dev]
  resources: [multimodalpretrainjobs/status]
  verbs: [get, patch, update]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete, patch]
- apiGroups: [""]
  resources: [configmaps, services]
  verbs: [get, list, watch, create, patch]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, create]
# patch: a queued stage pod's planned node (a nodeSelector added while it is gated) and the lifting of Kiln's gate.
- apiGroups: [""]
  resources: [pods]
  verbs: [patch]
# list: why an attempt's pods were not created (the Job controller's FailedCreate events on its Job).
- apiGroups: [""]
  resources: [events]
  verbs: [list, create, patch]
# Kueue mode: why Kueue has not admitted a stage Job (its Workload's conditions).
- apiGroups: [kueue.x-k8s.io]
  resources: [workloads]
  verbs: [list]
{{- end -}}

{{/* What the operator reads cluster-wide (GPUs held anywhere are not free) and Kiln's cluster-scoped queues. */}}
{{- define "kiln.clusterRules" -}}
# namespaces: a TrainingQueue's namespaceSelector admits jobs by their namespace's labels.
- apiGroups: [""]
  resources: [nodes, pods, namespaces]
  verbs: [get, list, watch]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch]
- apiGroups: [kiln.dev]
  resources: [multimodalpretrainjobs]
  verbs: [get, list, watch]
- apiGroups: [kiln.dev]
  resources: [trainingqueues]
  verbs: [get, list, watch, create]
- apiGroups: [kiln.dev]
  resources: [trainingqueues/status]
  verbs: [get, patch, update]
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list]
# A job's spec.scheduling.priorityClassName is its priority in a Builtin queue.
- apiGroups: [scheduling.k8s.io]
  resources: [priorityclasses]
  verbs: [get, list, watch]
# A stage's RuntimeClass adds its overhead to each pod the queue plans, and its node selector.
- apiGroups: [node.k8s.io]
  resources: [runtimeclasses]
  verbs: [get, list, watch]
{{- end -}}
