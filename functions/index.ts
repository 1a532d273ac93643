// The registry: name → function module. Routes, the scheduler and the CLI look functions up here.
import type { AnyFn } from '../lib/core/fn.js';
import { login } from './login.js';
import { logout } from './logout.js';
import { changePassword } from './changePassword.js';
import { listUsers } from './listUsers.js';
import { createUser } from './createUser.js';
import { updateUser } from './updateUser.js';
import { deleteUser } from './deleteUser.js';
import { listInvestors } from './listInvestors.js';
import { createInvestor } from './createInvestor.js';
import { getInvestor } from './getInvestor.js';
import { updateInvestor } from './updateInvestor.js';
import { deleteInvestor } from './deleteInvestor.js';
import { listContacts } from './listContacts.js';
import { createContact } from './createContact.js';
import { getContact } from './getContact.js';
import { updateContact } from './updateContact.js';
import { deleteContact } from './deleteContact.js';
import { importInvestors } from './importInvestors.js';
import { listExclusions } from './listExclusions.js';
import { createExclusion } from './createExclusion.js';
import { deleteExclusion } from './deleteExclusion.js';
import { oauthStart } from './oauthStart.js';
import { oauthCallback } from './oauthCallback.js';
import { enroll } from './enroll.js';
import { enrollAll } from './enrollAll.js';
import { listAccounts } from './listAccounts.js';
import { updateAccount } from './updateAccount.js';
import { deleteAccount } from './deleteAccount.js';
import { syncMailbox } from './syncMailbox.js';
import { syncAll } from './syncAll.js';
import { runNow } from './runNow.js';
import { listRuns } from './listRuns.js';
import { status } from './status.js';
import { fetchAttachment } from './fetchAttachment.js';
import { rematch } from './rematch.js';
import { rematchQueued } from './rematchQueued.js';
import { listThreads } from './listThreads.js';
import { getThread } from './getThread.js';
import { getAttachment } from './getAttachment.js';

export const functions = {
  login,
  logout,
  changePassword,
  listUsers,
  createUser,
  updateUser,
  deleteUser,
  listInvestors,
  createInvestor,
  getInvestor,
  updateInvestor,
  deleteInvestor,
  listContacts,
  createContact,
  getContact,
  updateContact,
  deleteContact,
  importInvestors,
  listExclusions,
  createExclusion,
  deleteExclusion,
  oauthStart,
  oauthCallback,
  enroll,
  enrollAll,
  listAccounts,
  updateAccount,
  deleteAccount,
  syncMailbox,
  syncAll,
  runNow,
  listRuns,
  status,
  fetchAttachment,
  rematch,
  rematchQueued,
  listThreads,
  getThread,
  getAttachment,
} satisfies Record<string, AnyFn>;

type FunctionName = keyof typeof functions;

/** The function registered under `name`, or undefined (never an Object.prototype member). */
export function functionNamed(name: string): AnyFn | undefined {
  return Object.hasOwn(functions, name) ? functions[name as FunctionName] : undefined;
}
