// Types of bin/compiled.js (plain JS: the launcher reads it before any TypeScript loader).
export declare function currentBuild(outDir?: string): URL | undefined
export declare function build(outDir?: string): Promise<number>
