import { Type } from '@sinclair/typebox'

/** A uuid (a row's id, or a reference to one), with the example the OpenAPI document shows when given. */
export const Uuid = (description: string, example?: string) => Type.String({ format: 'uuid', description, ...(example === undefined ? {} : { examples: [example] }) })
