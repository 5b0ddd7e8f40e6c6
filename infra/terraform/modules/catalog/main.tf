# The archive's Parquet days as a table Athena can query, with no crawler and no partition to add:
# partition projection computes every date's location (days/date=YYYY-MM-DD/) from the query itself.
# The columns are those energymon.adapters.columnar.encode_day writes; the moto test reads an object the
# archiver wrote with this table's schema, so the two cannot drift apart unnoticed.

resource "aws_glue_catalog_database" "this" {
  name        = var.database_name
  description = "energymon: the archive's readings (one Parquet file per UTC date), for Athena."

  tags = var.tags
}

resource "aws_glue_catalog_table" "readings" {
  name          = "readings"
  database_name = aws_glue_catalog_database.this.name
  description   = "Every accepted reading, one row per device and timestamp (duplicates dropped at compaction). Today's readings are in raw/ until the day closes."
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL                        = "TRUE"
    classification                  = "parquet"
    "parquet.compression"           = "ZSTD"
    "projection.enabled"            = "true"
    "projection.date.type"          = "date"
    "projection.date.format"        = "yyyy-MM-dd"
    "projection.date.range"         = "${var.first_date},NOW"
    "projection.date.interval"      = "1"
    "projection.date.interval.unit" = "DAYS"
    "storage.location.template"     = "s3://${var.archive_bucket_name}/days/date=$${date}/"
  }

  partition_keys {
    name    = "date"
    type    = "string"
    comment = "UTC date of the readings, YYYY-MM-DD"
  }

  storage_descriptor {
    location      = "s3://${var.archive_bucket_name}/days/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "serialization.format" = "1"
      }
    }

    columns {
      name    = "device_id"
      type    = "string"
      comment = "thing name = device id"
    }
    columns {
      name    = "ts"
      type    = "timestamp"
      comment = "reading time, UTC, millisecond precision"
    }
    columns {
      name    = "power_w"
      type    = "double"
      comment = "W"
    }
    columns {
      name    = "energy_wh"
      type    = "double"
      comment = "import counter, Wh"
    }
    columns {
      name    = "export_wh"
      type    = "double"
      comment = "export counter, Wh"
    }
    columns {
      name    = "voltage_v"
      type    = "double"
      comment = "V"
    }
    columns {
      name    = "current_a"
      type    = "double"
      comment = "A"
    }
  }
}
