# What the operator needs next (README: deploy/README.md), and what the backend runs with.

output "backend_url" {
  description = "Put this in the extension's rstudioPool.backendUrl setting."
  value       = var.enable_backend_service ? local.backend_url : null
}

output "load_balancer_dns_name" {
  description = "The load balancer's own name: point domain_name at it when route53_zone_id is empty."
  value       = try(aws_lb.backend[0].dns_name, null)
}

output "create_first_user_command" {
  description = "Creates the first user (an admin) inside a running backend task and prints their API token. Change alice to the user's name."
  value = var.enable_backend_service && var.enable_execute_command ? join(" ", [
    "aws ecs execute-command --region ${var.region} --cluster ${aws_ecs_cluster.this[0].name} --container backend --interactive",
    "--task \"$(aws ecs list-tasks --region ${var.region} --cluster ${aws_ecs_cluster.this[0].name} --service-name ${aws_ecs_service.backend[0].name} --query 'taskArns[0]' --output text)\"",
    "--command '/app/docker-entrypoint.sh user add alice --admin'",
  ]) : null
}

output "ecr_repository_url" {
  description = "Push the backend image here (tag backend_image_tag) when backend_image is empty."
  value       = try(aws_ecr_repository.backend[0].repository_url, null)
}

output "backend_image" {
  description = "The image the backend tasks run."
  value       = var.enable_backend_service ? local.backend_image : null
}

output "backend_role_arn" {
  description = "The backend's role (ECS task role): the least-privilege pool policy, the events queue."
  value       = aws_iam_role.backend.arn
}

output "backend_role_name" {
  description = "Name of the backend's role."
  value       = aws_iam_role.backend.name
}

output "instance_role_arn" {
  description = "The RStudio hosts' role (SSM agent only)."
  value       = aws_iam_role.instance.arn
}

output "instance_profile_name" {
  description = "The RStudio hosts' instance profile (the purpose's ec2.instanceProfile)."
  value       = aws_iam_instance_profile.instance.name
}

output "hosts_security_group_id" {
  description = "The hosts' security group, with no inbound rules (the purpose's ec2.securityGroupIds)."
  value       = aws_security_group.hosts.id
}

output "vpc_id" {
  description = "The VPC of the stack."
  value       = local.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets of hosts and tasks (the purpose's ec2.subnetIds)."
  value       = local.private_subnet_ids
}

output "events_queue_url" {
  description = "SQS queue of spot interruption warnings, rebalance recommendations and state changes (POOL_EVENTS_QUEUE_URL)."
  value       = aws_sqs_queue.pool_events.url
}

output "events_queue_arn" {
  description = "ARN of the pool-events queue."
  value       = aws_sqs_queue.pool_events.arn
}

output "image_filter" {
  description = "The purpose's ec2.imageFilter: the newest AMI the pipeline made."
  value       = local.image_filter
}

output "image_pipeline_arn" {
  description = "The RStudio image pipeline."
  value       = try(aws_imagebuilder_image_pipeline.rstudio[0].arn, null)
}

output "start_image_build_command" {
  description = "Builds a new RStudio AMI now (the first one, or after a change) instead of waiting for the weekly run."
  value       = var.enable_image_pipeline ? "aws imagebuilder start-image-pipeline-execution --region ${var.region} --image-pipeline-arn ${aws_imagebuilder_image_pipeline.rstudio[0].arn}" : null
}

output "database_url_secret_arn" {
  description = "Secrets Manager secret holding POOL_DATABASE_URL."
  value       = try(aws_secretsmanager_secret.database_url[0].arn, null)
}

output "pool_config_yaml" {
  description = "The backend's pool configuration (POOL_CONFIG), as the tasks get it."
  value       = local.pool_config_yaml
}

output "backend_environment" {
  description = "The backend's environment besides POOL_DATABASE_URL: run it elsewhere with these."
  value       = local.backend_environment
}
