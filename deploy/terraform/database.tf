# The pool's PostgreSQL on RDS (encrypted, private, TLS required) and its URL in Secrets
# Manager, which ECS hands to the tasks as POOL_DATABASE_URL. The password is made by an
# ephemeral resource and written through write-only arguments: it is never in the plan or the
# state. Bump db_password_version to rotate it.

locals {
  db_name     = "rstudio_pool"
  db_username = "rstudio_pool"
  # Node's TLS store lacks the RDS CA; the image carries Amazon's bundle (deploy/docker/Dockerfile).
  db_tls_params = "sslmode=verify-full&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem"
}

resource "aws_security_group" "database" {
  count       = var.enable_backend_service ? 1 : 0
  name        = "${local.name}-db"
  description = "RStudio Pool database: PostgreSQL from the backend tasks only"
  vpc_id      = local.vpc_id
  tags        = { Name = "${local.name}-db" }
}

resource "aws_vpc_security_group_ingress_rule" "database_from_tasks" {
  count                        = var.enable_backend_service ? 1 : 0
  security_group_id            = aws_security_group.database[0].id
  description                  = "PostgreSQL from the backend"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.tasks[0].id
}

resource "aws_db_subnet_group" "this" {
  count      = var.enable_backend_service ? 1 : 0
  name       = "${local.name}-db"
  subnet_ids = local.private_subnet_ids
}

resource "aws_db_parameter_group" "this" {
  count  = var.enable_backend_service ? 1 : 0
  name   = "${local.name}-pg${split(".", var.db_engine_version)[0]}"
  family = "postgres${split(".", var.db_engine_version)[0]}"
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
}

ephemeral "aws_secretsmanager_random_password" "database" {
  count               = var.enable_backend_service ? 1 : 0
  password_length     = 40
  exclude_punctuation = true # the password goes into a URL unescaped
}

resource "aws_db_instance" "this" {
  count                        = var.enable_backend_service ? 1 : 0
  identifier                   = "${local.name}-db"
  engine                       = "postgres"
  engine_version               = var.db_engine_version
  instance_class               = var.db_instance_class
  allocated_storage            = var.db_allocated_storage
  storage_type                 = "gp3"
  storage_encrypted            = true
  db_name                      = local.db_name
  username                     = local.db_username
  password_wo                  = ephemeral.aws_secretsmanager_random_password.database[0].random_password
  password_wo_version          = var.db_password_version
  db_subnet_group_name         = aws_db_subnet_group.this[0].name
  parameter_group_name         = aws_db_parameter_group.this[0].name
  vpc_security_group_ids       = [aws_security_group.database[0].id]
  publicly_accessible          = false
  multi_az                     = var.db_multi_az
  backup_retention_period      = 7
  deletion_protection          = var.db_deletion_protection
  skip_final_snapshot          = var.db_skip_final_snapshot
  final_snapshot_identifier    = var.db_skip_final_snapshot ? null : "${local.name}-db-final"
  auto_minor_version_upgrade   = true
  apply_immediately            = false
  copy_tags_to_snapshot        = true
  performance_insights_enabled = false
}

resource "aws_secretsmanager_secret" "database_url" {
  count                   = var.enable_backend_service ? 1 : 0
  name                    = "${local.name}/database-url"
  description             = "POOL_DATABASE_URL of the RStudio Pool backend"
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "database_url" {
  count                    = var.enable_backend_service ? 1 : 0
  secret_id                = aws_secretsmanager_secret.database_url[0].id
  secret_string_wo         = "postgres://${local.db_username}:${ephemeral.aws_secretsmanager_random_password.database[0].random_password}@${aws_db_instance.this[0].address}:${aws_db_instance.this[0].port}/${local.db_name}?${local.db_tls_params}"
  secret_string_wo_version = var.db_password_version
}
