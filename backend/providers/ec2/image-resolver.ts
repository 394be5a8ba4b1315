/**
 * Finds the AMI of a purpose: the given imageId, or the newest available image whose tags (and
 * name pattern) match the purpose's filter, since images are rebuilt weekly and the newest must
 * win. Answers are cached for a few minutes so launches do not each call DescribeImages.
 */
import { DescribeImagesCommand, type EC2Client, type Filter, type Image } from "@aws-sdk/client-ec2";
import type { Ec2PurposeConfig } from "../../config/schema";
import { PoolError } from "../../errors";
import { aws } from "./aws-errors";

export interface ResolvedImage {
  imageId: string;
  rootDeviceName: string;
  name: string | null;
  creationDate: string | null;
}

const MAX_PAGES = 5;

export function imageFilters(filter: NonNullable<Ec2PurposeConfig["imageFilter"]>): Filter[] {
  const filters: Filter[] = [{ Name: "state", Values: ["available"] }];
  for (const [k, v] of Object.entries(filter.tags)) filters.push({ Name: `tag:${k}`, Values: [v] });
  if (filter.namePattern) filters.push({ Name: "name", Values: [filter.namePattern] });
  return filters;
}

/** The newest image by CreationDate (ISO 8601 strings sort by time). */
export function newestImage(images: Image[]): Image | null {
  let best: Image | null = null;
  for (const img of images) {
    if (!img.ImageId) continue;
    if (!best || (img.CreationDate ?? "") > (best.CreationDate ?? "")) best = img;
  }
  return best;
}

export class ImageResolver {
  private readonly cache = new Map<string, { at: number; image: ResolvedImage }>();

  constructor(
    private readonly ec2: EC2Client,
    private readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async resolve(cfg: Pick<Ec2PurposeConfig, "imageId" | "imageFilter">): Promise<ResolvedImage> {
    const key = JSON.stringify([cfg.imageId ?? null, cfg.imageFilter ?? null]);
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.image;
    const images: Image[] = [];
    if (cfg.imageId) {
      const out = await aws({ action: "ec2:DescribeImages", target: cfg.imageId }, () => this.ec2.send(new DescribeImagesCommand({ ImageIds: [cfg.imageId!] })));
      images.push(...(out.Images ?? []));
    } else if (cfg.imageFilter) {
      let token: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const out = await aws({ action: "ec2:DescribeImages" }, () =>
          this.ec2.send(new DescribeImagesCommand({ Owners: cfg.imageFilter!.owners, Filters: imageFilters(cfg.imageFilter!), MaxResults: 1000, NextToken: token })),
        );
        images.push(...(out.Images ?? []));
        token = out.NextToken;
        if (!token) break;
      }
    }
    const best = newestImage(images);
    if (!best) {
      const what = cfg.imageId ? `AMI ${cfg.imageId}` : `an AMI matching ec2.imageFilter ${JSON.stringify(cfg.imageFilter)}`;
      throw new PoolError("INVALID_CONFIG", `Failed to find ${what} in this region. Check the purpose's ec2 image settings.`);
    }
    const image: ResolvedImage = {
      imageId: best.ImageId!,
      rootDeviceName: best.RootDeviceName ?? "/dev/xvda",
      name: best.Name ?? null,
      creationDate: best.CreationDate ?? null,
    };
    this.cache.set(key, { at: this.now(), image });
    return image;
  }
}
