# The backend: the container image (deploy/docker/Dockerfile) on ECS Fargate, two tasks in the
# private subnets behind an HTTPS load balancer, logs in CloudWatch. The lifecycle lease in the
# database makes one task run the loop; both serve the API.

locals {
  backend_port  = 8080
  backend_image = var.backend_image != "" || !var.enable_backend_service ? var.backend_image : "${aws_ecr_repository.backend[0].repository_url}:${var.backend_image_tag}"
  backend_url   = "https://${var.domain_name}"

  # The pool's YAML (POOL_CONFIG): one RStudio purpose on the hosts' network and profile,
  # images found by tag, newest first (the pipeline's AMIs).
  image_filter = { tags = merge(var.image_tags, local.pool_tag), owners = ["self"] }
  pool_config = {
    pool = { name = var.pool_name, maxInstances = var.pool_max_instances }
    purposes = [{
      name               = var.purpose.name
      description        = var.purpose.description
      minFree            = var.purpose.min_free
      max                = var.purpose.max
      idleTimeoutSeconds = var.purpose.idle_timeout_seconds
      costTags           = var.purpose.cost_tags
      ec2 = {
        imageFilter      = local.image_filter
        instanceTypes    = var.purpose.instance_types
        market           = var.purpose.market
        subnetIds        = local.private_subnet_ids
        securityGroupIds = [aws_security_group.hosts.id]
        instanceProfile  = aws_iam_instance_profile.instance.name
        homeVolumeGiB    = var.purpose.home_volume_gib
        rstudioMode      = "baked"
      }
    }]
  }
  pool_config_yaml = yamlencode(local.pool_config)

  backend_environment = {
    POOL_PROVIDER         = "ec2"
    REGION                = var.region
    AWS_REGION            = var.region
    POOL_NAME             = var.pool_name
    HOST                  = "0.0.0.0"
    PORT                  = tostring(local.backend_port)
    LOG_LEVEL             = "info"
    POOL_CONFIG_YAML      = local.pool_config_yaml
    POOL_EVENTS_QUEUE_URL = aws_sqs_queue.pool_events.url
  }
}

resource "aws_ecr_repository" "backend" {
  count                = var.enable_backend_service && var.backend_image == "" ? 1 : 0
  name                 = "${local.name}-backend"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "AES256"
  }
}

resource "aws_cloudwatch_log_group" "backend" {
  count             = var.enable_backend_service ? 1 : 0
  name              = "/rstudio-pool/${var.pool_name}/backend"
  retention_in_days = var.log_retention_days
}

# --- security groups ---------------------------------------------------------------------

resource "aws_security_group" "alb" {
  count       = var.enable_backend_service ? 1 : 0
  name        = "${local.name}-alb"
  description = "RStudio Pool load balancer: HTTPS from allowed_client_cidrs"
  vpc_id      = local.vpc_id
  tags        = { Name = "${local.name}-alb" }
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  for_each          = var.enable_backend_service ? { for pair in setproduct(var.allowed_client_cidrs, [443, 80]) : "${pair[0]}:${pair[1]}" => pair } : {}
  security_group_id = aws_security_group.alb[0].id
  description       = each.value[1] == 443 ? "HTTPS from clients" : "HTTP from clients (redirected to HTTPS)"
  ip_protocol       = "tcp"
  from_port         = each.value[1]
  to_port           = each.value[1]
  cidr_ipv4         = each.value[0]
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  count                        = var.enable_backend_service ? 1 : 0
  security_group_id            = aws_security_group.alb[0].id
  description                  = "To the backend tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.backend_port
  to_port                      = local.backend_port
  referenced_security_group_id = aws_security_group.tasks[0].id
}

resource "aws_security_group" "tasks" {
  count       = var.enable_backend_service ? 1 : 0
  name        = "${local.name}-backend"
  description = "RStudio Pool backend tasks: the API port from the load balancer only"
  vpc_id      = local.vpc_id
  tags        = { Name = "${local.name}-backend" }
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  count                        = var.enable_backend_service ? 1 : 0
  security_group_id            = aws_security_group.tasks[0].id
  description                  = "API from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = local.backend_port
  to_port                      = local.backend_port
  referenced_security_group_id = aws_security_group.alb[0].id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  count             = var.enable_backend_service ? 1 : 0
  security_group_id = aws_security_group.tasks[0].id
  description       = "AWS APIs (endpoints or NAT), image pull"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "tasks_db" {
  count                        = var.enable_backend_service ? 1 : 0
  security_group_id            = aws_security_group.tasks[0].id
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database[0].id
}

# --- TLS certificate and DNS -------------------------------------------------------------

resource "aws_acm_certificate" "backend" {
  count             = var.enable_backend_service && var.certificate_arn == "" ? 1 : 0
  domain_name       = var.domain_name
  validation_method = "DNS"
  lifecycle {
    create_before_destroy = true
    precondition {
      condition     = var.route53_zone_id != ""
      error_message = "Give route53_zone_id (the module validates a new certificate there) or certificate_arn (an issued certificate)."
    }
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = var.enable_backend_service && var.certificate_arn == "" ? {
    for o in aws_acm_certificate.backend[0].domain_validation_options : o.domain_name => o
  } : {}
  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "backend" {
  count                   = var.enable_backend_service && var.certificate_arn == "" ? 1 : 0
  certificate_arn         = aws_acm_certificate.backend[0].arn
  validation_record_fqdns = [for r in aws_route53_record.certificate_validation : r.fqdn]
}

locals {
  certificate_arn = var.certificate_arn != "" ? var.certificate_arn : try(aws_acm_certificate_validation.backend[0].certificate_arn, "")
}

resource "aws_route53_record" "backend" {
  count   = var.enable_backend_service && var.route53_zone_id != "" ? 1 : 0
  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"
  alias {
    name                   = aws_lb.backend[0].dns_name
    zone_id                = aws_lb.backend[0].zone_id
    evaluate_target_health = true
  }
}

# --- load balancer -----------------------------------------------------------------------

resource "aws_lb" "backend" {
  count                      = var.enable_backend_service ? 1 : 0
  name                       = "${local.name}-alb"
  load_balancer_type         = "application"
  internal                   = var.load_balancer_internal
  subnets                    = local.lb_subnet_ids
  security_groups            = [aws_security_group.alb[0].id]
  drop_invalid_header_fields = true
  idle_timeout               = 60
  lifecycle {
    precondition {
      condition     = length(local.lb_subnet_ids) >= 2
      error_message = "The load balancer needs subnets in two zones: public_subnet_ids (internet-facing) or private_subnet_ids (load_balancer_internal = true)."
    }
  }
}

resource "aws_lb_target_group" "backend" {
  count                = var.enable_backend_service ? 1 : 0
  name                 = "${local.name}-api"
  port                 = local.backend_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = local.vpc_id
  deregistration_delay = 30
  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  count             = var.enable_backend_service ? 1 : 0
  load_balancer_arn = aws_lb.backend[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = local.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.backend[0].arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  count             = var.enable_backend_service ? 1 : 0
  load_balancer_arn = aws_lb.backend[0].arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

# --- ECS ---------------------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  count = var.enable_backend_service ? 1 : 0
  name  = local.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_task_definition" "backend" {
  count                    = var.enable_backend_service ? 1 : 0
  family                   = "${local.name}-backend"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.backend_cpu
  memory                   = var.backend_memory
  task_role_arn            = aws_iam_role.backend.arn
  execution_role_arn       = aws_iam_role.task_execution[0].arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  container_definitions = jsonencode([{
    name         = "backend"
    image        = local.backend_image
    essential    = true
    user         = "1000"
    portMappings = [{ containerPort = local.backend_port, protocol = "tcp" }]
    environment  = [for k in sort(keys(local.backend_environment)) : { name = k, value = local.backend_environment[k] }]
    secrets      = [{ name = "POOL_DATABASE_URL", valueFrom = aws_secretsmanager_secret.database_url[0].arn }]
    healthCheck = {
      command     = ["CMD", "node", "-e", "fetch('http://127.0.0.1:${local.backend_port}/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    stopTimeout = 30
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.backend[0].name
        awslogs-region        = var.region
        awslogs-stream-prefix = "backend"
      }
    }
  }])
}

resource "aws_ecs_service" "backend" {
  count                              = var.enable_backend_service ? 1 : 0
  name                               = "backend"
  cluster                            = aws_ecs_cluster.this[0].id
  task_definition                    = aws_ecs_task_definition.backend[0].arn
  desired_count                      = var.backend_desired_count
  launch_type                        = "FARGATE"
  enable_execute_command             = var.enable_execute_command
  health_check_grace_period_seconds  = 60
  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 200
  network_configuration {
    subnets          = local.private_subnet_ids
    security_groups  = [aws_security_group.tasks[0].id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.backend[0].arn
    container_name   = "backend"
    container_port   = local.backend_port
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  depends_on = [aws_lb_listener.https]
}
