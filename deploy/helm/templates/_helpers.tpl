{{/* Names, labels and the environment shared by the chart's workloads. */}}

{{- define "thunderline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "thunderline.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels for every object; pass (dict "ctx" $ "component" "reconciler"). */}}
{{- define "thunderline.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{ include "thunderline.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{- define "thunderline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "thunderline.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "thunderline.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "thunderline.secretName" -}}
{{- .Values.existingSecret | default (include "thunderline.fullname" .) -}}
{{- end -}}

{{- define "thunderline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "thunderline.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "thunderline.superlinkAddress" -}}
{{- if .Values.reconciler.superlink -}}
{{- .Values.reconciler.superlink -}}
{{- else -}}
{{- printf "%s-superlink:%v" (include "thunderline.fullname" .) .Values.superlink.port -}}
{{- end -}}
{{- end -}}

{{/* One environment variable read from the release's Secret. */}}
{{- define "thunderline.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "thunderline.secretName" .ctx }}
      key: {{ .key | default .name }}
      optional: {{ .optional }}
{{- end -}}

{{/* S3 settings for every process that reads models and shards or writes checkpoints. */}}
{{- define "thunderline.s3Env" -}}
{{- $minio := .Values.minio.enabled -}}
{{ include "thunderline.secretEnv" (dict "ctx" . "name" "AWS_ACCESS_KEY_ID" "key" (ternary "MINIO_ROOT_USER" "" $minio) "optional" (not $minio)) }}
{{ include "thunderline.secretEnv" (dict "ctx" . "name" "AWS_SECRET_ACCESS_KEY" "key" (ternary "MINIO_ROOT_PASSWORD" "" $minio) "optional" (not $minio)) }}
{{- $endpoint := .Values.s3.endpoint | default (ternary (printf "http://%s-minio:9000" (include "thunderline.fullname" .)) "" $minio) }}
{{- if $endpoint }}
- name: AWS_ENDPOINT_URL
  value: {{ $endpoint | quote }}
{{- end }}
- name: AWS_DEFAULT_REGION
  value: {{ .Values.s3.region | quote }}
{{- end -}}

{{/* Traces over OTLP/HTTP (when otel.endpoint is set); pass (dict "ctx" $ "service" "name"). */}}
{{- define "thunderline.otelEnv" -}}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .ctx.Values.otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/protobuf
- name: OTEL_SERVICE_NAME
  value: {{ .service | quote }}
{{ include "thunderline.secretEnv" (dict "ctx" .ctx "name" "OTEL_EXPORTER_OTLP_HEADERS" "optional" true) }}
{{- end -}}

{{/* The Flower processes' environment: the app writes checkpoints and reads inputs. */}}
{{- define "thunderline.flowerEnv" -}}
- name: FLWR_TELEMETRY_ENABLED
  value: "0"
- name: FLWR_DISABLE_UPDATE_CHECK
  value: "1"
{{ include "thunderline.s3Env" . }}
{{- end -}}

{{- define "thunderline.podSecurity" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Writable folders under a read-only root filesystem. */}}
{{- define "thunderline.scratchVolumes" -}}
- name: home
  emptyDir:
    sizeLimit: {{ .sizeLimit | default "1Gi" }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "thunderline.scratchMounts" -}}
- name: home
  mountPath: /var/lib/thunderline
- name: tmp
  mountPath: /tmp
{{- end -}}
