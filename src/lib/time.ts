// The timestamp format every stored row uses (ISO 8601, UTC), so rows sort and compare as strings.
export const now = (): string => new Date().toISOString();
