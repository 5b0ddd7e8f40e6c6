output "database_name" {
  description = "Glue database of the archive's tables."
  value       = aws_glue_catalog_database.this.name
}

output "readings_table_name" {
  description = "Glue table of every archived reading (Athena: <database>.readings)."
  value       = aws_glue_catalog_table.readings.name
}

output "readings_location_template" {
  description = "S3 location of one date's partition, as the projection computes it."
  value       = aws_glue_catalog_table.readings.parameters["storage.location.template"]
}
