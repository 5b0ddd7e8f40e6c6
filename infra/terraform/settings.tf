# The shared settings document: what the processor must compute exactly as the local runtime does (default zone,
# tariff, energy limits, and each device's own), rendered from typed, validated variables into the archive bucket.
# The Lambda gets its key and hash in the environment (not the document itself: no 4 KB limit), so a changed
# document changes the function configuration and new containers load it.

# The object itself is written by modules/storage (settings_document_json), next to the bucket it lives in.

locals {
  settings_document = {
    timezone    = var.default_timezone
    tariff      = var.tariff
    max_power_w = var.energy_defaults.max_power_w
    max_gap_s   = var.energy_defaults.max_gap_s
    jitter_wh   = var.energy_defaults.jitter_wh
    # Unset optional attributes are left out rather than sent as null (the handler treats both as "inherit").
    devices = { for id, d in var.devices : id => { for key, value in d : key => value if value != null } }
    alerts = {
      rules = [for r in var.alerts.rules : { for key, value in r : key => value if value != null }]
      # An sns channel without a topic_arn: this stack's consumption-alert topic (its ARN built from the name,
      # not taken from modules/alerts, whose function carries this document's hash: that would be a cycle).
      channels = [for c in var.alerts.channels : merge(
        { for key, value in c : key => value if value != null },
        c.kind == "sns" && c.topic_arn == null ? { topic_arn = local.consumption_topic_arn } : {},
      )]
    }
  }
  consumption_topic_arn = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.consumption_topic_name}"
  settings_json         = jsonencode(local.settings_document)
  settings_sha256       = sha256(local.settings_json)

  # IoT attribute values allow only [a-zA-Z0-9_.,@/:#=\[\]-]: anything else (a label's spaces) becomes "_".
  iot_attribute_unsafe = "/[^a-zA-Z0-9_.,@/:#=\\[\\]-]/"
  device_thing_attributes = { for id, d in var.devices : id => merge(
    d.label == null ? {} : { label = replace(d.label, local.iot_attribute_unsafe, "_") },
    d.timezone == null ? {} : { timezone = replace(d.timezone, local.iot_attribute_unsafe, "_") },
  ) }
  # Every device is a thing; var.things adds certificate CSRs, attributes, or things without device settings.
  things = { for name in distinct(concat(keys(var.devices), keys(var.things))) : name => {
    attributes      = merge(lookup(local.device_thing_attributes, name, {}), try(var.things[name].attributes, {}))
    certificate_csr = try(var.things[name].certificate_csr, null)
  } }
}
