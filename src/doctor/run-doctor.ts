import type { KubeConfig } from '@kubernetes/client-node';
import { exitCodeOf } from './check.ts';
import { evaluate } from './evaluate.ts';
import { gatherFacts, type GatherOptions } from './gather.ts';
import { renderJson, renderText } from './render.ts';

export interface DoctorRun extends Omit<GatherOptions, 'kubeConfig'> {
  kubeConfig: KubeConfig;
  output: 'text' | 'json';
}

/** Gathers, judges and renders: the report to print and the exit code (see DOCTOR_EXIT). */
export async function runDoctor(run: DoctorRun): Promise<{ report: string; exitCode: number }> {
  const { facts, read } = await gatherFacts(run);
  const results = evaluate(facts);
  return { report: run.output === 'json' ? renderJson(results, read) : renderText(results, read), exitCode: exitCodeOf(results) };
}
