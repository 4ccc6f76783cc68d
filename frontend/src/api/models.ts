import { api } from './client'

export interface ModelLimits {
  max_new_tokens: number
  max_n: number
  context: number
  max_prompt_chars: number
}

export interface ModelInfo {
  route: string
  name: string
  genre: string
  description: string
  available: boolean
  reason: string
  limits: ModelLimits
}

export const listModels = () => api.get<ModelInfo[]>('/api/models/')
