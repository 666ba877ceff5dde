// Users and groups: create (a generated password is shown once), roles, groups, disable, delete.
import { useState } from 'react';
import { groupCreate, groupDelete, groupList, siteSettingsPatch, siteSettingsShow, userCreate, userDelete, userList, userMfaReset, userPatch } from '../lib/api';
import { useLive } from '../lib/events';
import { timeAgo } from '../lib/format';
import type { GroupView, UserView } from '../lib/types';
import { ActionButton, DataTable, Field, LoadError, useNotify } from '../lib/ui';

const list = (s: string): string[] => s.split(/[\s,]+/).filter(Boolean);

function UserCreateForm({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [fullName, setFullName] = useState('');
  const [password, setPassword] = useState('');
  const [admin, setAdmin] = useState(false);
  const [kiosk, setKiosk] = useState(false);
  const [groups, setGroups] = useState('');
  const [generated, setGenerated] = useState<{ user: string; password: string }>();
  return (
    <form className="card form-grid" aria-label="Create a user" onSubmit={(e) => e.preventDefault()}>
      <h2>New user</h2>
      <Field label="User name">
        <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
      </Field>
      <Field label="Full name">
        <input value={fullName} onChange={(e) => setFullName(e.target.value)} />
      </Field>
      <Field label="Password" hint="leave empty to generate one">
        <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
      </Field>
      <Field label="Groups" hint="names separated by commas">
        <input value={groups} onChange={(e) => setGroups(e.target.value)} />
      </Field>
      <label className="inline">
        <input type="checkbox" checked={admin} disabled={kiosk} onChange={(e) => setAdmin(e.target.checked)} /> Administrator
      </label>
      <label className="inline">
        <input type="checkbox" checked={kiosk} disabled={admin} onChange={(e) => setKiosk(e.target.checked)} /> Kiosk account (no password, never an administrator;
        the thin clients that name it open it at boot, so it is as public as the place where they stand: any PC can claim a MAC)
      </label>
      <ActionButton
        kind="primary"
        label="Create user"
        disabledReason={!name ? 'give a user name' : kiosk && password ? 'a kiosk account has no password' : false}
        action={async () => {
          const created = await userCreate({ name, fullName: fullName || undefined, password: password || undefined, roles: admin ? ['admin', 'user'] : ['user'], groups: list(groups), kiosk: kiosk || undefined });
          if (created.password) setGenerated({ user: created.name, password: created.password });
          setName('');
          setPassword('');
          setFullName('');
          onCreated();
        }}
      />
      {generated && (
        <p role="status" className="generated">
          Password of {generated.user} (shown once): <code>{generated.password}</code>
        </p>
      )}
    </form>
  );
}

/** The site rule "administrators must use two-factor sign-in": a checkbox that saves at once. */
function SiteMfaSetting() {
  const notify = useNotify();
  const settings = useLive(siteSettingsShow, ['user']);
  if (!settings.data) return <LoadError error={settings.error} />;
  return (
    <label className="inline">
      <input
        type="checkbox"
        checked={settings.data.adminsMustUseMfa}
        onChange={async (e) => {
          try {
            await siteSettingsPatch({ adminsMustUseMfa: e.target.checked });
            settings.reload();
          } catch (err) {
            notify.error(err, 'Site setting');
          }
        }}
      />{' '}
      Administrators must use two-factor sign-in (an administrator without it is sent to set it up before anything else)
    </label>
  );
}

export function UsersPage() {
  const notify = useNotify();
  const users = useLive(userList, ['user']);
  const groups = useLive(groupList, ['user']);
  const [groupName, setGroupName] = useState('');
  return (
    <>
      <SiteMfaSetting />
      <LoadError error={users.error} />
      <DataTable<UserView>
        caption="Users"
        rows={users.data}
        rowKey={(u) => u.name}
        empty="No users yet."
        columns={[
          { label: 'User', render: (u) => `${u.name}${u.fullName ? ` (${u.fullName})` : ''}` },
          { label: 'Roles', render: (u) => u.roles.join(', ') },
          { label: 'Groups', render: (u) => u.groups.join(', ') || '—' },
          { label: 'Keyboard', render: (u) => u.keyboardLayout },
          { label: 'Last login', render: (u) => timeAgo(u.lastLoginAt) },
          { label: 'Status', render: (u) => (u.disabled ? 'disabled' : 'active') },
          { label: 'Source', render: (u) => (u.directory ? `directory ${u.directory.source}${u.directory.login && u.directory.login !== u.name ? ` (logs in as ${u.directory.login})` : ''}` : 'local') },
          { label: 'Two-factor', render: (u) => (u.kiosk ? 'kiosk account' : u.mfaEnabled ? 'on' : 'off') },
          {
            label: 'Actions',
            render: (u) => (
              <>
                <ActionButton
                  label={u.disabled ? `Enable ${u.name}` : `Disable ${u.name}`}
                  action={async () => {
                    await userPatch(u.name, { disabled: !u.disabled });
                    users.reload();
                  }}
                />
                {u.mfaEnabled && (
                  <ActionButton
                    label={`Reset two-factor of ${u.name}`}
                    confirm={`Turn off two-factor sign-in of ${u.name} (a lost phone)? They log in with the password alone until they set it up again.`}
                    done={`Two-factor sign-in of ${u.name} reset`}
                    action={async () => {
                      await userMfaReset(u.name);
                      users.reload();
                    }}
                  />
                )}
                <ActionButton
                  kind="danger"
                  label={`Delete ${u.name}`}
                  confirm={`Delete user ${u.name}? Their home volume stays until deleted on its own.`}
                  action={async () => {
                    await userDelete(u.name);
                    users.reload();
                  }}
                />
              </>
            ),
          },
        ]}
      />
      <UserCreateForm onCreated={() => users.reload()} />
      <h2>Groups</h2>
      <LoadError error={groups.error} />
      <DataTable<GroupView>
        caption="Groups and their members"
        rows={groups.data}
        rowKey={(g) => g.name}
        empty="No groups yet."
        columns={[
          { label: 'Group', render: (g) => g.name },
          { label: 'Members', render: (g) => g.members.join(', ') || '—' },
          {
            label: 'Actions',
            render: (g) => (
              <ActionButton
                kind="danger"
                label={`Delete group ${g.name}`}
                action={async () => {
                  await groupDelete(g.name);
                  groups.reload();
                }}
              />
            ),
          },
        ]}
      />
      <form
        className="inline-form"
        aria-label="Create a group"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            await groupCreate(groupName);
            setGroupName('');
            groups.reload();
          } catch (err) {
            notify.error(err, 'Create group');
          }
        }}
      >
        <Field label="New group">
          <input value={groupName} onChange={(e) => setGroupName(e.target.value)} />
        </Field>
        <button type="submit" className="btn" disabled={!groupName}>
          Create group
        </button>
      </form>
    </>
  );
}
