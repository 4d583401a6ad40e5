{{- define "openrealm.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "openrealm.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "openrealm.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "openrealm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "openrealm.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The operator's permissions: exactly the verbs realm_operator.kube and kopf use. */}}
{{- define "openrealm.rules" -}}
- apiGroups: ["mmo.openrealm.dev"]
  resources: ["realms", "regions"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["mmo.openrealm.dev"]
  resources: ["realms/status", "regions/status"]
  verbs: ["get", "patch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "create", "patch"]
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
{{- /* create: a Realm naming no token key gets a random one in a Secret, made once (an
existing one is never read or replaced). get: only to read each Realm's Redis URL. */}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: [{{ if .Values.rbac.readSecrets }}"get", {{ end }}"create"]
{{- end -}}
