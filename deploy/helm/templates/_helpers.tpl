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

{{/* TLS to Flower: the Secret with ca.crt (and, for the SuperLink, tls.crt and tls.key);
empty when Flower runs in plaintext, or an external SuperLink is trusted by the default
CAs. Refuses settings that cannot work, naming the value to set. */}}
{{- define "thunderline.flowerTlsSecret" -}}
{{- $tls := .Values.flower.tls -}}
{{- if $tls.enabled -}}
{{- if and $tls.existingSecret $tls.certManager.enabled -}}
{{- fail "flower.tls: set existingSecret or certManager.enabled, not both" -}}
{{- else if $tls.certManager.enabled -}}
{{- if not .Values.superlink.enabled -}}
{{- fail "flower.tls.certManager issues the chart's own SuperLink a certificate: with superlink.enabled false, name the external SuperLink's CA in flower.tls.existingSecret" -}}
{{- end -}}
{{- if not $tls.certManager.issuerRef.name -}}
{{- fail "flower.tls.certManager.issuerRef.name: name the cert-manager issuer that signs the SuperLink's certificate" -}}
{{- end -}}
{{- printf "%s-flower-tls" (include "thunderline.fullname" .) -}}
{{- else if $tls.existingSecret -}}
{{- $tls.existingSecret -}}
{{- else if .Values.superlink.enabled -}}
{{- fail "flower.tls: the SuperLink serves TLS unless flower.tls.enabled is false; set flower.tls.existingSecret (a Secret with ca.crt, tls.crt, tls.key) or flower.tls.certManager.enabled with issuerRef.name" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "thunderline.flowerTlsDir" -}}
/etc/thunderline/flower-tls
{{- end -}}

{{/* The Flower TLS Secret as a volume with only the keys a pod needs;
pass (dict "ctx" $ "keys" (list "ca.crt")). */}}
{{- define "thunderline.flowerTlsVolume" -}}
- name: flower-tls
  secret:
    secretName: {{ include "thunderline.flowerTlsSecret" .ctx }}
    items:
      {{- range .keys }}
      - key: {{ . }}
        path: {{ . }}
      {{- end }}
    defaultMode: 0440
{{- end -}}

{{- define "thunderline.flowerTlsMount" -}}
- name: flower-tls
  mountPath: {{ include "thunderline.flowerTlsDir" . }}
  readOnly: true
{{- end -}}
